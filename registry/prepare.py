"""Prepare parsed batches for the writer: normalise each record (registry/normalize.py) and
fingerprint each batch's structures, inline or in worker processes a few batches ahead.

The RDKit work (InChI, fingerprint: ~2 ms per structure) is what bounds a structure-library
ingest; the writer (COPY) is a small share. With `workers`, that work runs in processes
while the main process writes, and at most `workers + 1` batches are in flight, so this stage
holds a bounded share of the file (the readers still take each file's whole text)."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

from registry.chem import InvalidStructureError, fingerprint_bits
from registry.normalize import Normalized, normalize
from registry.parsers import RecordError
from registry.records import Parsed


@dataclass
class Prepared:
    """One parsed batch after normalisation: per record its Normalized, or the reason it is
    rejected; the fingerprint bits of its structures by InChIKey (empty when not asked)."""

    batch: list[Parsed]
    outcomes: list[Normalized | str]
    fingerprints: dict[str, str]


def _outcome(parsed: Parsed) -> Normalized | str:
    if parsed.record is None:
        return parsed.reason or "unreadable record"
    if "\x00" in parsed.raw_text:
        return "holds a NUL byte (binary data inside the text)"
    try:
        return normalize(parsed.record)
    except (RecordError, InvalidStructureError) as exc:
        return str(exc)


def prepare_batch(batch: list[Parsed], fingerprints: bool) -> Prepared:
    """Normalise a batch and, if asked, fingerprint each distinct structure in it once (from
    its canonical SMILES, as registry.fingerprints fills them)."""
    outcomes = [_outcome(parsed) for parsed in batch]
    prints: dict[str, str] = {}
    if fingerprints:
        for item in outcomes:
            if isinstance(item, Normalized) and item.identity and item.inchikey not in prints:
                prints[item.inchikey] = fingerprint_bits(item.identity.smiles)
    return Prepared(batch, outcomes, prints)


def prepared_batches(
    batches: Iterable[list[Parsed]], fingerprints: bool, workers: int = 0
) -> Iterator[Prepared]:
    """Prepared batches in input order. With `workers` > 0 they are prepared in that many
    processes (spawned: the parent holds database connections a fork would share)."""
    if workers <= 0:
        for batch in batches:
            yield prepare_batch(batch, fingerprints)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque[Future] = deque()
        for batch in batches:
            pending.append(pool.submit(prepare_batch, batch, fingerprints))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
