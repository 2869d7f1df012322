"""Expand a user's PATH (file, folder or archive) into text units the parsers read."""

from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import io
import lzma
import os
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from registry.parsers import ParseError

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".zip")
_OPENERS = {
    ".gz": lambda raw: gzip.GzipFile(fileobj=raw),
    ".xz": lzma.LZMAFile,
    ".bz2": bz2.BZ2File,
}
MB = 1 << 20


def max_text_bytes() -> int:
    """Largest text one file or archive member may expand to (MOLVIS_MAX_FILE_MB, default
    2048): a small gzip can expand a thousandfold, and the text is held in memory."""
    return int(float(os.environ.get("MOLVIS_MAX_FILE_MB", "2048")) * MB)


@dataclass(frozen=True, slots=True)
class TextMember:
    """One text document: its display name, its name without compression suffixes, its text."""

    name: str
    inner_name: str
    text: str


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files to ingest, one per unit: folders are walked recursively in sorted order. Hidden
    files are skipped, and so are links that lead out of the folder (a link to /etc/passwd
    must not end up in the registry's rejects)."""
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        if path.is_dir():
            root = path.resolve()
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and not p.name.startswith(".") and p.resolve().is_relative_to(root)
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
    """Bytes to text (UTF-8, UTF-16 with its byte-order mark, else Latin-1); binary content
    (NUL bytes in the first 64 KB) is refused with a ParseError. A NUL byte further on stays in
    the text: the record holding it is rejected, not the file."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ParseError(name, f"damaged UTF-16 text: {exc.reason}", line=1) from None
        data = text.encode("utf-8")
    if not data.strip():
        raise ParseError(name, "empty file", line=1)
    if b"\x00" in data[:65536]:
        raise ParseError(name, "binary content, not a text file", line=1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _read_capped(handle, name: str, limit: int) -> bytes:
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise ParseError(
            name,
            f"expands to more than {limit // MB} MB of text (raise MOLVIS_MAX_FILE_MB to read it)",
        )
    return data


def _decompress(name: str, data: bytes, limit: int) -> tuple[str, bytes]:
    lower = name.lower()
    for suffix, opener in _OPENERS.items():
        if lower.endswith(suffix):
            try:
                with opener(io.BytesIO(data)) as handle:
                    return name[: -len(suffix)], _read_capped(handle, name, limit)
            except (OSError, EOFError, lzma.LZMAError) as exc:
                raise ParseError(name, f"damaged {suffix} compression: {exc}") from exc
    if len(data) > limit:
        raise ParseError(
            name, f"larger than {limit // MB} MB (raise MOLVIS_MAX_FILE_MB to read it)"
        )
    return name, data


def member_from_bytes(name: str, data: bytes, limit: int | None = None) -> TextMember:
    """One named blob (a file, an archive member, an upload) as decompressed text, at most
    `limit` bytes of it (default: max_text_bytes())."""
    inner, data = _decompress(name, data, max_text_bytes() if limit is None else limit)
    return TextMember(name, inner, decode(data, name))


def iter_members(path: Path) -> Iterator[TextMember]:
    """Text documents inside a file: itself (decompressed) or each member of an archive."""
    limit = max_text_bytes()
    lower = path.name.lower()
    if lower.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as archive:
                for info in sorted(archive.infolist(), key=lambda i: i.filename):
                    if info.is_dir():
                        continue
                    member = f"{path}:{info.filename}"
                    with archive.open(info) as handle:
                        data = _read_capped(handle, member, limit)
                    yield member_from_bytes(member, data, limit)
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
                    member = f"{path}:{info.name}"
                    yield member_from_bytes(member, _read_capped(handle, member, limit), limit)
        except (tarfile.TarError, EOFError, lzma.LZMAError, OSError) as exc:
            raise ParseError(str(path), f"damaged tar archive: {exc}") from exc
        return
    if path.stat().st_size > limit:
        raise ParseError(str(path), f"larger than {limit // MB} MB (raise MOLVIS_MAX_FILE_MB)")
    yield member_from_bytes(str(path), path.read_bytes(), limit)
