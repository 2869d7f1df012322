"""`molvis spectra predict FILE`: the forward model's predicted MS/MS for the rows of a CSV/TSV
table (a structure column found by name as in `molvis ccs predict`, an `adduct` column, an
optional `collision_energy` column), one answer per input row in input order; a row it cannot
predict gets `peaks: null` and the reason, naming the file and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from molvis.workflows.ccs_file import registry_structure
from registry.chem.adducts import UnknownAdductError, normalize_adduct
from registry.chem.identity import InvalidStructureError, identify
from registry.ingest.files import member_from_bytes
from registry.ingest.parsers import ParseError
from registry.ingest.parsers.ccs import ALIASES
from registry.ingest.parsers.tables import find_column, read_table

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "pretrained" / "molvis-fragments.pt"
ENERGY = ("collision_energy", "collision energy", "ce", "energy")


class RowError(ValueError):
    """A row the forward model cannot predict, in words a chemist can act on."""


def _structure(given: dict[str, str], engine: Engine | None) -> str:
    """The row's SMILES: its own SMILES or InChI read by RDKit, else its InChIKey's compound
    in the registry."""
    text = given["smiles"] or given["inchi"]
    if text:
        return identify(text).smiles
    if not given["inchikey"]:
        raise RowError("no structure (no SMILES, InChI or InChIKey)")
    known = registry_structure(engine, given["inchikey"]) if engine is not None else None
    if known is None:
        raise RowError(
            f"InChIKey {given['inchikey']!r} is not in the registry (give a SMILES or InChI)"
        )
    return known[0]


def predict_table(
    path: Path,
    engine: Engine | None,
    model_path: Path | None = None,
    top_peaks: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """One dict per row: smiles, adduct, collision_energy, peaks ([m/z, intensity], the base
    peak 1) and fragments (the ion formula of each peak), or peaks None and the reason.
    `progress(done, rows)` after each row."""
    from models.fragment_model import load_model, predict_spectrum

    member = member_from_bytes(path.name, path.read_bytes())
    table = read_table(member)
    cols = {f: find_column(table, ALIASES[f]) for f in ("smiles", "inchi", "inchikey", "adduct")}
    cols["collision_energy"] = find_column(table, ENERGY)
    if not (cols["smiles"] or cols["inchi"] or cols["inchikey"]):
        raise ParseError(path.name, "no structure column (smiles, inchi or inchikey)", 1)
    if not cols["adduct"]:
        raise ParseError(path.name, "no adduct column", 1)
    model, _ = load_model(model_path or SHIPPED)
    if top_peaks:
        model.config.top_peaks = top_peaks
    answers: list[dict[str, Any]] = []
    records = table.to_dict("records")
    for line, row in enumerate(records, start=2):
        if progress:
            progress(line - 2, len(records))
        given = {f: str(row[c]).strip() if c else "" for f, c in cols.items()}
        given = {f: "" if v.lower() == "nan" else v for f, v in given.items()}
        answer: dict[str, Any] = {
            "smiles": given["smiles"] or None,
            "adduct": given["adduct"],
            "collision_energy": given["collision_energy"] or None,
        }
        answers.append(answer)
        try:
            adduct = normalize_adduct(given["adduct"])
            if adduct is None:
                raise RowError(f"adduct {given['adduct']!r} unknown (e.g. [M+H]+, [M-H]-)")
            answer["smiles"] = _structure(given, engine)
            mz, intensity, formulas = predict_spectrum(
                model, answer["smiles"], adduct, answer["collision_energy"]
            )
        except (RowError, InvalidStructureError, UnknownAdductError, ValueError) as exc:
            answer["peaks"], answer["reason"] = None, f"{path.name} line {line}: {exc}"
            continue
        answer["peaks"] = [
            [round(float(m), 5), round(float(i), 4)] for m, i in zip(mz, intensity, strict=True)
        ]
        answer["fragments"] = formulas
    if progress:
        progress(len(records), len(records))
    return answers
