"""The saved MS/MS library index under MOLVIS_HOME/library: one folder per build and a
pointer (`msms.json`) replaced atomically, so a search never reads a half-written index.

The files are plain arrays and JSON: ms_entropy's core index files plus our spectrum ids and
polarities. ms_entropy's own metadata store is pickle, so molvis neither writes nor reads it.
The pointer lists every file with its size and SHA-256: an index cut short or changed (a full
disk, a partial copy of MOLVIS_HOME, a bad restore, a flipped block) would otherwise answer
silently wrong, so a file of another size or checksum, or arrays whose lengths disagree, make the
index DAMAGED: the search builds a new one and says so. The checksums are read once per process
(about 0.2 s for 70,000 spectra) and can be checked by hand with `sha256sum`."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from registry.library.flash_index import (
    FORMAT,
    LIBRARY,
    LibraryIndex,
    build_index,
    current_generation,
    new_searcher,
)


def library_dir(home: Path) -> Path:
    return home / "library"


def save_index(index: LibraryIndex, home: Path) -> Path:
    """Write the index in its own folder, then point `msms.json` at it (atomic replace); older
    folders are removed. Builders take turns on a file lock."""
    root = library_dir(home)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        folder = root / f"{LIBRARY}-{index.generation or 'empty'}-{os.getpid()}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700)
        if index.spectra:
            index.searcher.entropy_search.write(folder)
            index.searcher.precursor_mz_array.astype(np.float32).tofile(folder / "precursor_mz.npy")
        np.save(folder / "ids.npy", index.ids, allow_pickle=False)
        np.save(folder / "modes.npy", index.modes, allow_pickle=False)
        pointer = {
            "format": FORMAT,
            "folder": folder.name,
            "generation": index.generation,
            "built_at": index.built_at,
            "spectra": index.spectra,
            "files": {f.name: file_record(f) for f in sorted(folder.iterdir())},
        }
        tmp = root / f".{LIBRARY}.json.{os.getpid()}"
        tmp.write_text(json.dumps(pointer))
        os.replace(tmp, root / f"{LIBRARY}.json")
        for old in root.glob(f"{LIBRARY}-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
    _loaded.clear()
    return folder


_loaded: dict[str, LibraryIndex] = {}


class DamagedIndexError(RuntimeError):
    """The saved index's files are not what its build wrote."""


def file_record(path: Path) -> dict[str, int | str]:
    """What the pointer keeps of one index file: its size and SHA-256."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return {"bytes": path.stat().st_size, "sha256": digest}


def _check_files(folder: Path, files: dict[str, dict]) -> None:
    """Each file as its build wrote it: present, of its size (cheap, first), of its checksum."""
    for name, written in files.items():
        path = folder / name
        found = path.stat().st_size if path.exists() else None
        if found != written["bytes"]:
            what = "missing" if found is None else f"{found:,} bytes, {written['bytes']:,} written"
            raise DamagedIndexError(f"library index {folder}: {name} is {what}")
    for name, written in files.items():
        try:
            digest = file_record(folder / name)["sha256"]
        except FileNotFoundError:
            raise DamagedIndexError(f"library index {folder}: {name} is missing") from None
        if digest != written["sha256"]:
            raise DamagedIndexError(
                f"library index {folder}: {name} has changed since it was written (SHA-256)"
            )


def load_index(home: Path) -> LibraryIndex | None:
    """The saved index (kept in memory per process), or None when there is none (or one of
    an older format); DamagedIndexError when its files are not those its build wrote."""
    root = library_dir(home)
    try:
        pointer = json.loads((root / f"{LIBRARY}.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if pointer.get("format") != FORMAT:
        return None
    key = f"{root}/{pointer['folder']}"
    if key not in _loaded:
        folder = root / pointer["folder"]
        if not folder.is_dir():  # replaced by a newer build meanwhile
            return None
        try:
            _check_files(folder, pointer["files"])
        except DamagedIndexError:
            if not folder.is_dir():  # removed by a newer build while its files were checked
                return None
            raise
        try:
            ids = np.load(folder / "ids.npy", allow_pickle=False)
            modes = np.load(folder / "modes.npy", allow_pickle=False)
            searcher = new_searcher()
            if len(ids):
                if not searcher.entropy_search.read(folder):
                    raise DamagedIndexError(f"library index {folder}: ms_entropy cannot read it")
                searcher.precursor_mz_array = np.fromfile(
                    folder / "precursor_mz.npy", dtype=np.float32
                )
            searcher.metadata = None
        except FileNotFoundError:  # replaced by a newer build meanwhile
            return None
        lengths = {len(ids), len(modes), pointer["spectra"]}
        if len(ids):
            lengths.add(len(searcher.precursor_mz_array))
        if len(lengths) != 1:
            raise DamagedIndexError(f"library index {folder}: its arrays disagree in length")
        _loaded.clear()
        _loaded[key] = LibraryIndex(
            searcher, ids, modes, pointer["generation"], pointer["built_at"]
        )
    return _loaded[key]


def refresh_index(
    session: Session,
    home: Path,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
) -> tuple[LibraryIndex, bool]:
    """The saved index, rebuilt first when the registry's spectra changed since (always with
    `force`); True when it was rebuilt."""
    try:
        index = None if force else load_index(home)
    except DamagedIndexError:
        index = None
    if index is not None and index.generation == (current_generation(session) or ""):
        return index, False
    index = build_index(session, progress)
    save_index(index, home)
    return load_index(home) or index, True
