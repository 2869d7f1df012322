"""Expand a user's PATH (file, folder or archive) into text units the parsers read."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from registry.parsers import ParseError

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".zip")
_COMPRESSORS = {".gz": gzip.decompress, ".xz": lzma.decompress, ".bz2": bz2.decompress}


@dataclass(frozen=True, slots=True)
class TextMember:
    """One text document: its display name, its name without compression suffixes, its text."""

    name: str
    inner_name: str
    text: str


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files to ingest, one per unit: folders are walked recursively in sorted order."""
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        if path.is_dir():
            files.extend(
                p for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".")
            )
        else:
            files.append(path)
    return files


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def decode(data: bytes, name: str) -> str:
    """Bytes to text; binary content (NUL bytes) is refused with a ParseError."""
    if not data.strip():
        raise ParseError(name, "empty file", line=1)
    if b"\x00" in data[:65536]:
        raise ParseError(name, "binary content, not a text file", line=1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _decompress(name: str, data: bytes) -> tuple[str, bytes]:
    lower = name.lower()
    for suffix, fn in _COMPRESSORS.items():
        if lower.endswith(suffix):
            try:
                return name[: -len(suffix)], fn(data)
            except (OSError, EOFError, lzma.LZMAError) as exc:
                raise ParseError(name, f"damaged {suffix} compression: {exc}") from exc
    return name, data


def member_from_bytes(name: str, data: bytes) -> TextMember:
    """One named blob (a file, an archive member, an upload) as decompressed text."""
    inner, data = _decompress(name, data)
    return TextMember(name, inner, decode(data, name))


def iter_members(path: Path) -> Iterator[TextMember]:
    """Text documents inside a file: itself (decompressed) or each member of an archive."""
    lower = path.name.lower()
    if lower.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as archive:
                for info in sorted(archive.infolist(), key=lambda i: i.filename):
                    if info.is_dir():
                        continue
                    yield member_from_bytes(f"{path}:{info.filename}", archive.read(info))
        except zipfile.BadZipFile as exc:
            raise ParseError(str(path), f"damaged zip archive: {exc}") from exc
        return
    if is_archive(path):
        try:
            with tarfile.open(path, mode="r:*") as archive:
                for info in archive:
                    if not info.isfile():
                        continue
                    handle = archive.extractfile(info)
                    if handle is None:
                        continue
                    yield member_from_bytes(f"{path}:{info.name}", handle.read())
        except (tarfile.TarError, EOFError, lzma.LZMAError, OSError) as exc:
            raise ParseError(str(path), f"damaged tar archive: {exc}") from exc
        return
    yield member_from_bytes(str(path), path.read_bytes())
