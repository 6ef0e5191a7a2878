"""MkDocs hook: a docs page may link to a repository file outside docs/, e.g. a results file a figure came from.

Such a link is written relative to the page, as it resolves when the Markdown is read in the repository
(`[0.97](../reports/metrics/eval.json)` from docs/evaluation.md). The hook checks that the file exists (a missing one
is a warning, so `mkdocs build --strict` fails), copies it into the site under `repo/`, and points the link there.
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.repo_links")
LINK = re.compile(r"(\]\()(\.\./[^)\s#]+)(#[^)\s]*)?(\))")
SITE_FOLDER = "repo"


def _root(config) -> Path:
    return Path(config.config_file_path).resolve().parent


def _docs(config) -> Path:
    return Path(config.docs_dir).resolve()


def _target(config, page_uri: str, link: str) -> str | None:
    """The repository-relative path a page's `../` link names, or None when it leaves the repository."""
    path = (_docs(config) / posixpath.dirname(page_uri) / link).resolve()
    try:
        return path.relative_to(_root(config)).as_posix()
    except ValueError:
        return None


def on_files(files, config):
    wanted: set[str] = set()
    for file in files.documentation_pages():
        text = Path(file.abs_src_path).read_text(encoding="utf-8")
        for match in LINK.finditer(text):
            target = _target(config, file.src_uri, match.group(2))
            if target and (_root(config) / target).is_file() and not target.startswith(_docs(config).name + "/"):
                wanted.add(target)
    for target in sorted(wanted):
        files.append(File.generated(config, f"{SITE_FOLDER}/{target}", abs_src_path=str(_root(config) / target)))
    return files


def on_page_markdown(markdown, page, config, files):
    def rewrite(match: re.Match) -> str:
        link = match.group(2)
        target = _target(config, page.file.src_uri, link)
        if target is None or not (_root(config) / target).is_file():
            log.warning("Doc file '%s' links to '%s', which is not a file in the repository", page.file.src_uri, link)
            return match.group(0)
        if target.startswith(_docs(config).name + "/"):
            return match.group(0)  # inside docs/ after all: MkDocs checks it itself
        here = posixpath.dirname(page.file.src_uri)
        return (match.group(1) + posixpath.relpath(f"{SITE_FOLDER}/{target}", here or ".")
                + (match.group(3) or "") + match.group(4))

    return LINK.sub(rewrite, markdown)
