"""Expand a user's PATH (file, folder or archive) into text units the parsers read."""

from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import io
import lzma
import os
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from registry.ingest.parsers import ParseError

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".zip")
_OPENERS = {
    ".gz": lambda raw: gzip.GzipFile(fileobj=raw),
    ".xz": lzma.LZMAFile,
    ".bz2": bz2.BZ2File,
}
MB = 1 << 20


def _compression(name: str) -> str:
    """The compression suffix of a name (.gz, .xz, .bz2), '' when there is none."""
    return next((suffix for suffix in _OPENERS if name.lower().endswith(suffix)), "")


def max_text_bytes() -> int:
    """Largest text one file or archive member may expand to (MOLVIS_MAX_FILE_MB, default
    2048): a small gzip can expand a thousandfold; archive members and uploads are held in
    memory, and a file streamed from disk would otherwise be read for hours."""
    return int(float(os.environ.get("MOLVIS_MAX_FILE_MB", "2048")) * MB)


class TextMember:
    """One text document: its display name, its name without compression suffixes, and its
    text, either held (archive members, uploads) or read again from its file each time it is
    asked for (`reopen`), so that a large library streams line by line through `lines()`
    instead of sitting in memory whole."""

    __slots__ = ("name", "inner_name", "_text", "_reopen")

    def __init__(
        self,
        name: str,
        inner_name: str,
        text: str | None = None,
        reopen: Callable[[], TextIO] | None = None,
    ) -> None:
        if (text is None) == (reopen is None):
            raise ValueError("a TextMember holds its text or knows how to reopen it, not both")
        self.name, self.inner_name, self._text, self._reopen = name, inner_name, text, reopen

    @property
    def text(self) -> str:
        """The whole text (for formats read whole: tables, JCAMP-DX)."""
        if self._text is not None:
            return self._text
        with self._reopen() as handle:
            return handle.read()

    def lines(self) -> Iterator[str]:
        """Lines without their endings (\\n, \\r\\n or \\r; the same split for held and
        streamed text), streamed from the file."""
        with self.stream() as handle:
            for line in handle:
                yield line.rstrip("\r\n")

    def stream(self) -> TextIO:
        """The text as an open text stream (pandas reads tables from it in chunks)."""
        return io.StringIO(self._text, newline="") if self._text is not None else self._reopen()

    def head(self, size: int = 4096) -> str:
        """The first `size` characters."""
        if self._text is not None:
            return self._text[:size]
        with self._reopen() as handle:
            return handle.read(size)


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


def _too_large(name: str, limit: int) -> ParseError:
    return ParseError(
        name, f"expands to more than {limit // MB} MB of text (raise MOLVIS_MAX_FILE_MB to read it)"
    )


def _read_capped(handle, name: str, limit: int) -> bytes:
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise _too_large(name, limit)
    return data


def _decompress(name: str, data: bytes, limit: int) -> tuple[str, bytes]:
    suffix = _compression(name)
    if suffix:
        try:
            with _OPENERS[suffix](io.BytesIO(data)) as handle:
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


STDIN = "-"  # a file argument that reads standard input


def stdin_member() -> TextMember:
    """What standard input holds, as one decompressed text document."""
    return member_from_bytes("standard input", sys.stdin.buffer.read())


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
    yield streamed_member(path, limit)


def _open_decompressed(path: Path) -> BinaryIO:
    """The file's bytes, decompressed on the fly by its suffix."""
    suffix = _compression(path.name)
    return _OPENERS[suffix](path.open("rb")) if suffix else path.open("rb")


def _streamed_encoding(path: Path, limit: int) -> str | None:
    """One pass over the decompressed bytes, keeping none of them: the checks `decode` makes
    on held text (empty, binary, too large, damaged compression) and the encoding, UTF-8 when
    the whole file is valid UTF-8, else Latin-1. None for UTF-16 (read whole by `decode`)."""
    name = str(path)
    utf8 = codecs.getincrementaldecoder("utf-8")()
    encoding, size, blank = "utf-8-sig", 0, True
    try:
        with _open_decompressed(path) as handle:
            for chunk in iter(lambda: handle.read(MB), b""):
                if size == 0:
                    if chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                        return None
                    if b"\x00" in chunk[:65536]:
                        raise ParseError(name, "binary content, not a text file", line=1)
                size += len(chunk)
                if size > limit:
                    raise _too_large(name, limit)
                blank = blank and not chunk.strip()
                if encoding != "latin-1":
                    try:
                        utf8.decode(chunk)
                    except UnicodeDecodeError:
                        encoding = "latin-1"
            if encoding != "latin-1":
                try:
                    utf8.decode(b"", final=True)
                except UnicodeDecodeError:
                    encoding = "latin-1"
    except (OSError, EOFError, lzma.LZMAError) as exc:
        suffix = _compression(name)
        problem = f"damaged {suffix} compression" if suffix else "cannot be read"
        raise ParseError(name, f"{problem}: {exc}") from exc
    if blank:
        raise ParseError(name, "empty file", line=1)
    return encoding


def streamed_member(path: Path, limit: int | None = None) -> TextMember:
    """A file (compressed or not) as a member read from disk each time it is asked for: its
    decompressed text is checked once, in one pass, and never held whole."""
    limit = max_text_bytes() if limit is None else limit
    name = str(path)
    inner = name[: len(name) - len(_compression(name))]
    encoding = _streamed_encoding(path, limit)
    if encoding is None:
        return member_from_bytes(name, path.read_bytes(), limit)

    def reopen() -> TextIO:  # line endings kept as they are, as in held text
        return io.TextIOWrapper(_open_decompressed(path), encoding=encoding, newline="")

    return TextMember(name, inner, reopen=reopen)
