"""Content hashes computed exactly as DVC computes them, with DVC's own library (dvc_data).

A file's hash is the md5 of its bytes; a folder's is DVC's ``.dir`` hash (the md5 of its sorted
file list), so every hash here can be compared with ``dvc.lock`` as is.
"""

from __future__ import annotations

from pathlib import Path


def _fs():  # noqa: ANN202 - dvc_objects' LocalFileSystem
    from dvc_objects.fs.local import LocalFileSystem

    return LocalFileSystem()


def file_md5(path: Path) -> str:
    from dvc_data.hashfile.hash import file_md5 as dvc_file_md5

    return dvc_file_md5(str(Path(path).resolve()), _fs())


def folder_hashes(path: Path) -> tuple[str, dict[str, str]]:
    """DVC's ``.dir`` hash of a folder and the md5 of each file in it, keyed by POSIX relative path."""
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.memory import MemoryFileSystem

    # A throwaway in-memory object database: build() needs one, and dry_run stores nothing in it.
    odb = HashFileDB(MemoryFileSystem(), "/lineage-odb")
    _, _, tree = build(odb, str(Path(path).resolve()), _fs(), "md5", dry_run=True)
    files = {"/".join(key): info.value for key, _, info in tree}
    return tree.hash_info.value, dict(sorted(files.items()))


def content_hash(path: Path) -> str:
    """The hash dvc.lock records for ``path``: a file's md5 or a folder's ``.dir`` hash."""
    path = Path(path)
    return folder_hashes(path)[0] if path.is_dir() else file_md5(path)


def own_files(path: Path) -> dict[str, str]:
    """The md5 of each file an artifact consists of, for --verify (its lineage record lies beside it)."""
    path = Path(path)
    return folder_hashes(path)[1] if path.is_dir() else {path.name: file_md5(path)}
