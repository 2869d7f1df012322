"""`molvis ccs predict FILE`: predicted CCS for the rows of a CSV/TSV table (a structure
column found by name as in `molvis ingest ccs`, and an `adduct` column), one answer per input
row in input order with the half-width of its 95 % interval; a row it cannot predict gets
`ccs: null` and the reason. Without a registry the shipped predictor answers SMILES and InChI
rows (an InChIKey alone needs the registry to find its structure)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

from registry.chem.adducts import normalize_adduct
from registry.chem.identity import InvalidStructureError, fingerprint_bits, identify
from registry.db.connection import session_scope
from registry.ingest.files import member_from_bytes
from registry.ingest.parsers import ParseError
from registry.ingest.parsers.ccs import ALIASES
from registry.ingest.parsers.tables import find_column, read_table

if TYPE_CHECKING:
    from models.ccs import CcsInputs


def registry_structure(engine: Engine, inchikey: str) -> tuple[str, str, str, float] | None:
    """(smiles, fingerprint, formula, mass) of a registry compound by InChIKey (full key
    first, then its skeleton), or None."""
    with session_scope(engine) as session:
        row = session.execute(
            text(
                "SELECT smiles, fingerprint::text, formula, monoisotopic_mass FROM compound "
                "WHERE (inchikey = :key OR left(inchikey, 14) = left(:key, 14)) "
                "AND fingerprint IS NOT NULL ORDER BY inchikey <> :key, inchikey LIMIT 1"
            ),
            {"key": inchikey.strip().upper()},
        ).first()
    return tuple(row) if row else None


def one_batch(rows: list[CcsInputs]) -> CcsInputs:
    """Ions featurised one at a time (one ion and one structure row each) as one batch: each
    row of a table is read once, both to name a row it cannot predict and to predict it."""
    import torch

    from models.ccs import CcsInputs

    return CcsInputs(
        structure=torch.cat([r.structure for r in rows]),
        row=torch.arange(len(rows)),
        ion=torch.cat([r.ion for r in rows]),
        adduct=torch.cat([r.adduct for r in rows]),
        log_mz=torch.cat([r.log_mz for r in rows]),
    )


def predict_table(
    path: Path, engine: Engine | None, predictor: str | None = None
) -> list[dict[str, Any]]:
    """One dict per row: smiles, adduct (as given), ccs (A^2) and uncertainty_pct, or both None
    with `reason`. engine None: no registry, the shipped predictor."""
    from models.ccs import CcsInputError, featurize
    from models.ccs_inputs import Ion
    from molvis.workflows.ccs_prediction import load_active, load_shipped

    member = member_from_bytes(path.name, path.read_bytes())
    table = read_table(member)
    cols = {f: find_column(table, ALIASES[f]) for f in ("smiles", "inchi", "inchikey", "adduct")}
    if not (cols["smiles"] or cols["inchi"] or cols["inchikey"]):
        raise ParseError(path.name, "no structure column (smiles, inchi or inchikey)", 1)
    if not cols["adduct"]:
        raise ParseError(path.name, "no adduct column", 1)
    model = load_active(engine, predictor)[1] if engine is not None else load_shipped()
    answers: list[dict[str, Any]] = []
    featurised: list[tuple[int, CcsInputs]] = []  # (answer index, its one ion)
    for line, row in enumerate(table.to_dict("records"), start=2):
        given = {f: str(row[c]).strip() if c else "" for f, c in cols.items()}
        answer: dict[str, Any] = {"smiles": given["smiles"] or None, "adduct": given["adduct"]}
        answers.append(answer)
        try:
            adduct = normalize_adduct(given["adduct"])
            if adduct is None:
                raise CcsInputError(f"cannot read adduct {given['adduct']!r} (e.g. [M+H]+)")
            structure = given["smiles"] or given["inchi"]
            identity = identify(structure) if structure else None
            if identity is not None and not answer["smiles"]:
                answer["smiles"] = identity.smiles
            if identity is not None:
                bits, smiles = fingerprint_bits(identity.smiles), identity.smiles
                ion = Ion(bits, identity.formula, identity.monoisotopic_mass, adduct, smiles=smiles)
            elif not given["inchikey"]:
                raise CcsInputError("no structure (no SMILES, InChI or InChIKey)")
            elif engine is None:
                raise CcsInputError(
                    f"InChIKey {given['inchikey']!r} alone needs the registry to find its "
                    "structure (give a SMILES or InChI, or run molvis db upgrade and ingest it)"
                )
            else:
                known = registry_structure(engine, given["inchikey"])
                if known is None:
                    raise CcsInputError(
                        f"InChIKey {given['inchikey']!r} is not in the registry "
                        "(give a SMILES or InChI)"
                    )
                answer["smiles"] = known[0]
                ion = Ion(known[1], known[2], known[3], adduct, smiles=known[0])
            featurised.append((len(answers) - 1, featurize([ion], model.config)))  # or raises
        except (InvalidStructureError, CcsInputError) as exc:
            answer["ccs"], answer["uncertainty_pct"] = None, None
            answer["reason"] = f"{path.name} line {line}: {exc}"
    if featurised:
        batch = one_batch([inputs for _, inputs in featurised])
        values, uncertainties = model.predict_with_uncertainty(batch)
        for (n, _), value, spread in zip(featurised, values, uncertainties, strict=True):
            answers[n]["ccs"] = round(float(value), 2)
            answers[n]["uncertainty_pct"] = round(float(spread), 2)
    return answers
