"""JSON Lines that grow with the user's data, streamed: load gives a lazy reader, save consumes an iterable.

The data stages (ingest, template, split) read and write them row by row, so memory stays flat however
many rows there are. Saving is JSONLinesDataset's: a temporary sibling renamed into place when complete,
so a run that fails half-way through the rows leaves the previous file as it was.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from slmops.datasets.framing import text_lines
from slmops.datasets.jsonl import JSONLinesDataset, parse_json_line
from slmops.errors import InputDataError

_BOM = b"\xef\xbb\xbf"
_COMPRESSED = (b"\x1f\x8b", b"BZh")  # gzip, bz2: read as a stream, never by position


class JSONLinesFile:
    """The rows of a JSON Lines file, read again from disk on each iteration (blank lines skipped).

    ``rows_at`` reads rows by position, in any order, through an index of line offsets (8 bytes a row)
    built on first use: what the split needs to write rows in its own order without holding them.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._offsets: array | None = None

    def numbered(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(1-based line number, row) for every row; a malformed line stops it, naming the line."""
        source = str(self.path)
        for number, line in text_lines(self.path):
            if line.strip():
                yield number, parse_json_line(source, number, line)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (row for _, row in self.numbered())

    def rows_at(self, positions: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The rows at these 0-based positions among the file's rows, in the order given."""
        offsets, source = self._index(), str(self.path)
        with open(self.path, "rb") as handle:
            for position in positions:
                handle.seek(offsets[position])
                raw = handle.readline()
                yield parse_json_line(source, None, _text(raw, offsets[position]))

    def _index(self) -> array:
        if self._offsets is None:
            with open(self.path, "rb") as handle:
                if handle.read(3).startswith(_COMPRESSED):
                    raise InputDataError(str(self.path), "is compressed, and its rows must be read by position "
                                         "here; decompress it (gunzip / bunzip2) and point the catalog at that file")
                handle.seek(0)
                offsets, offset = array("q"), 0
                for raw in handle:
                    # A row is what iteration yields: a line not blank once decoded (quick test for JSON objects).
                    if raw[:1] == b"{" or _text(raw, offset).strip():
                        offsets.append(offset)
                    offset += len(raw)
            self._offsets = offsets
        return self._offsets

    def __repr__(self) -> str:
        return f"JSONLinesFile({str(self.path)!r})"


def _text(raw: bytes, offset: int) -> str:
    if offset == 0 and raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    return raw.decode("utf-8", errors="replace")


class StreamedJSONLinesDataset(JSONLinesDataset):
    """A JSON Lines file loaded as a lazy ``JSONLinesFile``; saves rows from any iterable, one at a time."""

    def load(self) -> JSONLinesFile:  # type: ignore[override]
        if not self._filepath.is_file():
            raise InputDataError(str(self._filepath), "file not found")
        return JSONLinesFile(self._filepath)
