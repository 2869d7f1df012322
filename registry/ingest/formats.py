"""The kinds of file molvis ingests: for each, its reader, its measurement table and the file
name suffixes it takes inside folders and archives."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Table

from registry.db.schema import CcsValue, IrSpectrum, MsmsSpectrum
from registry.ingest.files import TextMember, expand_paths, is_archive, iter_members
from registry.ingest.parsers.ccs import parse_ccs
from registry.ingest.parsers.ir import parse_jcamp
from registry.ingest.parsers.msms import parse_msms
from registry.ingest.parsers.structures import parse_structures
from registry.records import Parsed


@dataclass(frozen=True)
class Kind:
    """How one kind of file is read and where its measurements go."""

    name: str
    parse: Callable[..., Iterator[Parsed]]
    table: Table | None
    suffixes: tuple[str, ...]


KINDS: dict[str, Kind] = {
    "msms": Kind(
        "msms",
        parse_msms,
        MsmsSpectrum.__table__,
        (".mgf", ".msp", ".txt", ".json", ".mzml", ".mzxml"),
    ),
    "ir": Kind("ir", parse_jcamp, IrSpectrum.__table__, (".jdx", ".dx", ".jcamp")),
    "ccs": Kind("ccs", parse_ccs, CcsValue.__table__, (".csv", ".tsv", ".tab")),
    "structures": Kind(
        "structures",
        parse_structures,
        None,
        (".sdf", ".sd", ".mol", ".smi", ".smiles", ".inchi", ".csv", ".tsv", ".txt"),
    ),
}


def members_of(path: Path, kind: Kind) -> Iterator[TextMember]:
    """Members of an archive that belong to this kind (by name); a plain file as it is."""
    for member in iter_members(path):
        if is_archive(path) and not member.inner_name.lower().endswith(kind.suffixes):
            continue
        yield member


def _base_name(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".gz", ".xz", ".bz2"):
        name = name.removesuffix(suffix)
    return name


def files_for(kind: str, paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Files to ingest and files skipped: inside folders only this kind's suffixes are taken."""
    spec = KINDS[kind]
    chosen: list[Path] = []
    skipped: list[Path] = []
    for path in paths:
        for file in expand_paths([path]):
            wanted = is_archive(file) or _base_name(file).endswith(spec.suffixes)
            (chosen if (wanted or not path.is_dir()) else skipped).append(file)
    return chosen, skipped
