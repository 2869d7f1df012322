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
    """Register (or replace) the predictor called `name`; a new version under a known name
    clears that name's stored predictions (they were another model's), so a backfill refills."""
    values = dict(
        version=version, path=path, config=config, metrics=metrics, tolerance_pct=tolerance_pct
    )
    session.execute(
        text(
            "DELETE FROM ccs_prediction p USING ccs_predictor r WHERE p.predictor_id = r.id "
            "AND r.name = :name AND r.version <> :version"
        ),
        {"name": name, "version": version},
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


def predictor_at(session: Session, path: str) -> PredictorInfo | None:
    """The predictor registered from this file path, if any."""
    name = session.scalars(select(CcsPredictorRow.name).where(CcsPredictorRow.path == path)).first()
    return get_predictor(session, name) if name else None


def list_predictors(session: Session) -> list[str]:
    return list(session.scalars(select(CcsPredictorRow.name).order_by(CcsPredictorRow.id)))


def measured_for_training(
    session: Session, adducts: tuple[str, ...] | None = None
) -> list[MeasuredCcs]:
    """Every measured CCS (of the given adducts; None: of all) whose compound has a fingerprint,
    one row per (compound, adduct, method): the median of repeats, so a value compiled by
    several sources counts once. Methods other than DT, TW and TIMS become 'unknown'."""
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
            WHERE (CAST(:adducts AS text[]) IS NULL OR v.adduct = ANY (:adducts))
              AND c.fingerprint IS NOT NULL
              AND c.formula IS NOT NULL AND v.ccs > 0 AND v.superseded_by IS NULL
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
            ORDER BY 1, 7, 8
            """
        ),
        {"adducts": None if adducts is None else list(adducts)},
    ).all()
    return [MeasuredCcs(StructureRow(*r[:6]), r[6], r[7], float(r[8]), r[9]) for r in rows]


def structures_without_predictions(
    session: Session,
    predictor_id: int,
    batch_size: int = 5000,
    shards: int | None = None,
    shard: int = 0,
    marker: str | None = None,
) -> Iterator[list[StructureRow]]:
    """Batches of compounds (with fingerprint and formula) that lack predictions of this
    predictor (of the `marker` adduct when given: a backfill writes each compound's ions in one
    commit, so its marker says that set was done), by id (keyset paging: memory stays flat
    however large the registry)."""
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
                                  WHERE p.predictor_id = :pid AND p.compound_id = c.id
                                    AND (CAST(:marker AS text) IS NULL OR p.adduct = :marker))
                ORDER BY c.id LIMIT :n
                """
            ),
            {
                "last": last,
                "pid": predictor_id,
                "n": batch_size,
                "shards": shards,
                "shard": shard,
                "marker": marker,
            },
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
    uncertainties: list[float] | None = None,
) -> int:
    """Insert predictions with their 95 % interval half-width in percent (None: the predictor
    gives none); an existing row is kept: re-running a backfill changes nothing."""
    result = session.execute(
        text(
            "INSERT INTO ccs_prediction (predictor_id, compound_id, adduct, ccs, uncertainty_pct) "
            "SELECT :pid, * FROM unnest(CAST(:ids AS bigint[]), CAST(:adducts AS text[]), "
            "CAST(:values AS real[]), CAST(:uncertainties AS real[])) ON CONFLICT DO NOTHING"
        ),
        {
            "pid": predictor_id,
            "ids": compound_ids,
            "adducts": adducts,
            "values": values,
            "uncertainties": uncertainties or [None] * len(values),
        },
    )
    return result.rowcount


def predicted_by_skeleton(
    session: Session, inchikeys: list[str], adduct: str, predictor: str | None = None
) -> tuple[str | None, dict[str, tuple[float, float | None]]]:
    """The predictor's name and its stored predictions of one ion per skeleton (first
    InChIKey block): (CCS, uncertainty in % or None); (None, {}) when none is registered."""
    try:
        info = get_predictor(session, predictor)
    except UnknownPredictorError:
        if predictor:
            raise
        return None, {}
    rows = session.execute(
        text(
            "SELECT left(c.inchikey, 14), p.ccs, p.uncertainty_pct FROM ccs_prediction p "
            "JOIN compound c ON c.id = p.compound_id WHERE p.predictor_id = :pid "
            "AND p.adduct = :adduct AND left(c.inchikey, 14) = ANY (:keys)"
        ),
        {"pid": info.id, "adduct": adduct, "keys": [k[:14] for k in inchikeys]},
    ).all()
    return info.name, {
        skeleton: (float(value), None if spread is None else float(spread))
        for skeleton, value, spread in rows
    }
