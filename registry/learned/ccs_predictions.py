"""Predicted CCS in the registry: registered predictors, the measured values they learn from,
the compounds still without predictions, and the stored predictions (migration 0012)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from registry.db.schema import CcsPredictorRow


class UnknownPredictorError(LookupError):
    """No CCS predictor of that name, or none registered."""


@dataclass(frozen=True)
class PredictorInfo:
    id: int
    name: str
    version: str
    path: str
    metrics: dict[str, Any]
    tolerance_pct: float
    is_active: bool


@dataclass(frozen=True)
class StructureRow:
    """What the predictor reads of a compound: the stored fingerprint, formula and mass."""

    compound_id: int
    inchikey: str
    smiles: str
    fingerprint: str
    formula: str
    mass: float


@dataclass(frozen=True)
class MeasuredCcs:
    """A measured CCS to learn from: median over repeats of one (compound, adduct, method)."""

    structure: StructureRow
    adduct: str
    method: str
    ccs: float
    sources: list[str]


def register_predictor(
    session: Session,
    name: str,
    version: str,
    path: str,
    config: dict[str, Any],
    metrics: dict[str, Any],
    tolerance_pct: float,
    activate: bool,
) -> PredictorInfo:
    values = dict(
        version=version, path=path, config=config, metrics=metrics, tolerance_pct=tolerance_pct
    )
    session.execute(
        pg_insert(CcsPredictorRow)
        .values(name=name, **values)
        .on_conflict_do_update(index_elements=["name"], set_=values)
    )
    if activate:
        session.execute(update(CcsPredictorRow).values(is_active=False))
        session.execute(
            update(CcsPredictorRow).where(CcsPredictorRow.name == name).values(is_active=True)
        )
    return get_predictor(session, name)


def get_predictor(session: Session, name: str | None = None) -> PredictorInfo:
    """The predictor called `name`, or the active one."""
    query = select(CcsPredictorRow).where(
        CcsPredictorRow.name == name if name else CcsPredictorRow.is_active
    )
    row = session.scalars(query).first()
    if row is None:
        raise UnknownPredictorError(
            f"no CCS predictor {name!r}" if name else "no active CCS predictor"
        )
    return PredictorInfo(
        row.id, row.name, row.version, row.path, row.metrics or {}, row.tolerance_pct, row.is_active
    )


def list_predictors(session: Session) -> list[str]:
    return list(session.scalars(select(CcsPredictorRow.name).order_by(CcsPredictorRow.id)))


def measured_for_training(session: Session, adducts: tuple[str, ...]) -> list[MeasuredCcs]:
    """Every measured CCS of the given adducts whose compound has a fingerprint, one row per
    (compound, adduct, method): the median of repeats, so a value compiled by several
    sources counts once. Methods other than DT, TW and TIMS become 'unknown'."""
    rows = session.execute(
        text(
            """
            SELECT c.id, c.inchikey, c.smiles, c.fingerprint::text, c.formula,
                   c.monoisotopic_mass, v.adduct,
                   CASE WHEN v.method IN ('DT', 'TW', 'TIMS') THEN v.method ELSE 'unknown' END,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY v.ccs),
                   array_agg(DISTINCT s.name)
            FROM ccs_value v
            JOIN compound c ON c.id = v.compound_id
            JOIN source s ON s.id = v.source_id
            WHERE v.adduct = ANY (:adducts) AND c.fingerprint IS NOT NULL
              AND c.formula IS NOT NULL AND v.ccs > 0 AND v.superseded_by IS NULL
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
            ORDER BY 1, 7, 8
            """
        ),
        {"adducts": list(adducts)},
    ).all()
    return [MeasuredCcs(StructureRow(*r[:6]), r[6], r[7], float(r[8]), r[9]) for r in rows]


def structures_without_predictions(
    session: Session,
    predictor_id: int,
    batch_size: int = 5000,
    shards: int | None = None,
    shard: int = 0,
) -> Iterator[list[StructureRow]]:
    """Batches of compounds (with fingerprint and formula) that lack predictions of this
    predictor, by id (keyset paging: memory stays flat however large the registry)."""
    last = 0
    where_shard = "AND c.id % :shards = :shard" if shards else ""
    while True:
        rows = session.execute(
            text(
                f"""
                SELECT c.id, c.inchikey, c.smiles, c.fingerprint::text, c.formula,
                       c.monoisotopic_mass
                FROM compound c
                WHERE c.id > :last AND c.fingerprint IS NOT NULL AND c.formula IS NOT NULL
                  {where_shard}
                  AND NOT EXISTS (SELECT 1 FROM ccs_prediction p
                                  WHERE p.predictor_id = :pid AND p.compound_id = c.id)
                ORDER BY c.id LIMIT :n
                """
            ),
            {"last": last, "pid": predictor_id, "n": batch_size, "shards": shards, "shard": shard},
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        yield [StructureRow(*r) for r in rows]


def write_predictions(
    session: Session,
    predictor_id: int,
    compound_ids: list[int],
    adducts: list[str],
    values: list[float],
) -> int:
    """Insert predictions (an existing row is kept: re-running a backfill changes nothing)."""
    result = session.execute(
        text(
            "INSERT INTO ccs_prediction (predictor_id, compound_id, adduct, ccs) "
            "SELECT :pid, * FROM unnest(CAST(:ids AS bigint[]), CAST(:adducts AS text[]), "
            "CAST(:values AS real[])) ON CONFLICT DO NOTHING"
        ),
        {"pid": predictor_id, "ids": compound_ids, "adducts": adducts, "values": values},
    )
    return result.rowcount


def predicted_by_skeleton(
    session: Session, inchikeys: list[str], adduct: str, predictor: str | None = None
) -> tuple[str | None, dict[str, float]]:
    """The predictor's name and its stored predictions of one ion per skeleton (first
    InChIKey block); (None, {}) when no predictor is registered."""
    try:
        info = get_predictor(session, predictor)
    except UnknownPredictorError:
        if predictor:
            raise
        return None, {}
    rows = session.execute(
        text(
            "SELECT left(c.inchikey, 14), p.ccs FROM ccs_prediction p "
            "JOIN compound c ON c.id = p.compound_id WHERE p.predictor_id = :pid "
            "AND p.adduct = :adduct AND left(c.inchikey, 14) = ANY (:keys)"
        ),
        {"pid": info.id, "adduct": adduct, "keys": [k[:14] for k in inchikeys]},
    ).all()
    return info.name, {skeleton: float(value) for skeleton, value in rows}
