"""Fill predicted CCS for every compound that lacks them (`molvis ccs backfill`, `molvis embed`,
the Dagster asset `ccs_predictions`), batch by batch, featurised ahead in worker processes
when the backlog is large enough to pay for them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import Engine

from models.ccs_inputs import (
    ADDUCTS,
    PREDICT_METHOD,
    CcsConfig,
    Ion,
    IonColumns,
    ion_columns,
    predictable,
)
from molvis.workflows.ccs_prediction import load_active
from registry.chem.adducts import parse_adduct
from registry.db.connection import session_scope
from registry.learned import ccs_predictions as predictions

# A backfill of fewer compounds featurises inline: starting the workers (~0.6 s of imports
# each, no torch) costs more than they save below two batches (BENCHMARKS.md).
WORKER_MIN_COMPOUNDS = 10_000


def default_workers() -> int:
    """Featurisation processes for a CCS backfill: every core. The consumer (a small network
    and the writes) is about an eighth of a batch's work, so unlike the structure encoder's
    backfill it needs no core of its own (two workers 1.3x one on two cores: BENCHMARKS.md)."""
    return os.cpu_count() or 1


def stored_adducts(known: tuple[str, ...], everything: bool = False) -> tuple[str, ...]:
    """The adducts a backfill stores: the predictor's known ones that are common (ADDUCTS, in
    any spelling), or all it knows."""
    from models.ccs_adducts import adduct_key

    common = {adduct_key(a) for a in ADDUCTS}
    return tuple(a for a in known if everything or adduct_key(a) in common)


def backfill_inputs(
    batch: list[predictions.StructureRow], adducts: tuple[str, ...], config: CcsConfig
) -> tuple[list[int], list[str], IonColumns]:
    """A backfill batch's ions (each compound with each of `adducts` in the predictor's range):
    compound ids, adducts and their columns as NumPy arrays (they cross from a worker process
    by value, where tensors would cross as shared-memory handles; and the worker, importing no
    torch, starts in a fraction of the time)."""
    pairs = [(s, a) for s in batch for a in adducts if predictable(s.mass, a)]
    ions = [Ion(s.fingerprint, s.formula, s.mass, a, PREDICT_METHOD, s.smiles) for s, a in pairs]
    columns = ion_columns(ions, config)
    return [s.compound_id for s, _ in pairs], [a for _, a in pairs], columns


def backfill(
    engine: Engine,
    name: str | None = None,
    batch_size: int = 5000,
    shards: int | None = None,
    shard: int = 0,
    progress: Callable[[int], None] | None = None,
    all_adducts: bool = False,
    workers: int | None = None,
) -> dict[str, Any]:
    """Predict the common adducts' CCS (models.ccs_inputs.ADDUCTS; `all_adducts`: every adduct the
    predictor knows) for each compound lacking them (optionally one id shard), batch by batch
    with a commit each: memory stays flat, a re-run adds nothing, an interrupted run resumes
    where it stopped. Why not every adduct by default: the rows, not the predictor, bound the
    rate (three times the rows, half the molecules per second: BENCHMARKS.md). `workers`:
    featurisation processes running ahead of the predictor and the writes (default: every core,
    models/prefetch.py) for a backlog of WORKER_MIN_COMPOUNDS or more."""
    from models.ccs import CcsInputs
    from models.prefetch import featurised_ahead

    info, model = load_active(engine, name)
    adducts = stored_adducts(model.config.adducts, all_adducts)
    marker = max(adducts, key=lambda a: parse_adduct(a).mz(100.0))
    featurise = partial(backfill_inputs, adducts=adducts, config=model.config)
    workers = default_workers() if workers is None else workers
    compounds = written = 0
    started = time.perf_counter()
    with session_scope(engine) as reader:
        batches = predictions.structures_without_predictions(
            reader, info.id, batch_size, shards, shard, marker
        )
        ahead = featurised_ahead(
            batches, featurise, workers, min_batches=-(-WORKER_MIN_COMPOUNDS // batch_size)
        )
        for batch, (ids, ion_adducts, columns) in ahead:
            inputs = CcsInputs.of(columns)
            values, uncertainties = model.predict_with_uncertainty(inputs)
            with session_scope(engine) as writer:
                written += predictions.write_predictions(
                    writer, info.id, ids, ion_adducts, values.tolist(), uncertainties.tolist()
                )
            compounds += len(batch)
            if progress:
                progress(len(batch))
    seconds = time.perf_counter() - started
    return {
        "predictor": info.name,
        "compounds": compounds,
        "predictions": written,
        "seconds": round(seconds, 2),
        "molecules_per_second": round(compounds / seconds, 1) if seconds and compounds else None,
    }
