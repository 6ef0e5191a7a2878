"""Open a page in headless Chromium and report what a reader's browser would see.

Talks the Chrome DevTools protocol over ``--remote-debugging-pipe`` (file descriptors 3 and 4,
NUL-separated JSON), so no websocket client or browser driver package is needed. The browser is
kept offline: every host name resolves to nothing and a request leaving the page is recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGES = "JSON.stringify(Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]))"


@dataclass
class PageReport:
    errors: list[str] = field(default_factory=list)  # console errors, uncaught exceptions, failed loads
    requests: list[str] = field(default_factory=list)  # URLs the page asked for
    images: list[list[Any]] = field(default_factory=list)  # [complete, naturalWidth, naturalHeight] per <img>
    title: str = ""


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class _Pipe:
    def __init__(self, write_fd: int, read_fd: int):
        self._write, self._read, self._buffer, self._next_id = write_fd, read_fd, b"", 0
        self.events: list[dict[str, Any]] = []

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._read, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._receive(deadline))


def _record(event: dict[str, Any], report: PageReport) -> None:
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.exceptionThrown":
        report.errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
    elif method == "Runtime.consoleAPICalled" and params.get("type") in {"error", "assert"}:
        report.errors.append(json.dumps(params.get("args", []))[:500])
    elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        report.errors.append(params["entry"].get("text", "")[:500])
    elif method == "Network.requestWillBeSent":
        report.requests.append(params.get("request", {}).get("url", "")[:200])
    elif method == "Network.loadingFailed":
        report.errors.append(f"failed to load: {params.get('errorText')}")


def inspect_page(page: Path, binary: str, timeout: float = 60) -> PageReport:
    """Load ``page`` offline in headless Chromium; collect errors, requests and image sizes."""
    to_browser_read, to_browser_write = os.pipe()
    from_browser_read, from_browser_write = os.pipe()
    # Chromium reads commands on fd 3 and writes replies on fd 4; move ours well clear of those first.
    inbound, outbound = os.dup(to_browser_read), os.dup(from_browser_write)

    def wire_fds() -> None:
        os.dup2(inbound, 3)
        os.dup2(outbound, 4)

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    command = [binary, "--headless", "--remote-debugging-pipe", "--disable-gpu", "--no-first-run",
               "--no-default-browser-check", "--disable-extensions", "--disable-dev-shm-usage",
               "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}", "about:blank"]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
    process = subprocess.Popen(command, preexec_fn=wire_fds, pass_fds=(3, 4, inbound, outbound),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for fd in (to_browser_read, from_browser_write, inbound, outbound):
        os.close(fd)
    pipe, report = _Pipe(to_browser_write, from_browser_read), PageReport()
    try:
        target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
        session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            pipe.call(f"{domain}.enable", session=session)
        pipe.events.clear()
        pipe.call("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        pipe.wait_for("Page.loadEventFired", timeout)
        images = pipe.call("Runtime.evaluate", {"expression": IMAGES, "returnByValue": True}, session=session)
        report.images = json.loads(images["result"]["value"])
        report.title = pipe.call("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                                 session=session)["result"]["value"]
        for event in pipe.events:
            _record(event, report)
        pipe.call("Browser.close")
    finally:
        os.close(to_browser_write)
        os.close(from_browser_read)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)
    return report
