"""A raw text file's framing: compression, byte-order mark, line endings, encoding, NUL bytes.

Each line is decoded on its own, so a bad byte is reported with its line number, and a file is
read as a stream (a compressed file is never unpacked whole).
"""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from slmops.errors import InputDataError

_MAGIC = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open}
COMPRESSED_SUFFIXES = (".gz", ".bz2")
# One row bigger than this is almost always a file in the wrong format (a whole JSON array on one line).
MAX_LINE_BYTES = 8 * 1024 * 1024


def _open_binary(path: Path) -> IO[bytes]:
    with open(path, "rb") as probe:
        head = probe.read(3)
    for magic, opener in _MAGIC.items():
        if head.startswith(magic):
            return opener(path, "rb")
    return open(path, "rb")


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, decoded line with its line ending) for every line of the file."""
    path = Path(path)
    if not path.is_file():
        raise InputDataError(str(path), "file not found")
    try:
        with _open_binary(path) as handle:
            for number, raw in enumerate(handle, start=1):
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]  # UTF-8 byte-order mark, as Windows tools and spreadsheets write
                if len(raw) > MAX_LINE_BYTES:
                    raise InputDataError(str(path), f"the line is {len(raw) / 2**20:.0f} MiB, over the "
                                         f"{MAX_LINE_BYTES // 2**20} MiB a row may have; is the file in the "
                                         "format data.format says?", line=number)
                nul = raw.find(b"\x00")
                if nul >= 0:
                    raise InputDataError(str(path), f"NUL byte at column {nul + 1}: this looks like a "
                                         "binary or UTF-16 file; re-save it as UTF-8 text", line=number)
                try:
                    yield number, raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise InputDataError(str(path), f"not UTF-8 (byte 0x{raw[error.start]:02x} at column "
                                         f"{error.start + 1}); re-save the file as UTF-8", line=number) from None
    except (OSError, EOFError) as error:  # a truncated or corrupt .gz/.bz2
        raise InputDataError(str(path), f"cannot read the compressed file ({error}); check the download") from None


def inner_suffix(path: Path) -> str:
    """The format suffix under any compression suffix: 'x.jsonl.gz' -> '.jsonl'."""
    path = Path(path)
    if path.suffix.lower() in COMPRESSED_SUFFIXES:
        path = path.with_suffix("")
    return path.suffix.lower()
