"""Prepare parsed batches for the writer: RDKit's identity of each distinct structure in a
batch (and its fingerprint), then the normalisation steps (registry/ingest/normalize.py) per record.

The RDKit work (InChI, fingerprint per new structure) bounds a structure-library ingest and
is a large share of a spectrum file's (BENCHMARKS.md, ingest). With `workers`, only that work leaves the main
process: each batch's distinct structure strings go to a worker, their identities and
fingerprints come back (not the records, which stay with the writer), and at most
`workers + 3` batches are in flight, so the writer parses and stores while workers identify."""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from registry.chem.identity import (
    Identity,
    InvalidStructureError,
    fingerprint_bits,
    identify,
    identify_fingerprinted,
)
from registry.ingest.normalize import Normalized, normalize
from registry.ingest.parsers import RecordError
from registry.records import Parsed

AHEAD = 2  # batches parsed beyond one per worker: the first bring most new structures


@dataclass
class Structures:
    """RDKit's answer for each distinct structure string of a batch (its Identity, or why it
    is refused), and fingerprint bits by InChIKey (empty when not asked)."""

    identities: dict[str, Identity | str]
    fingerprints: dict[str, str]


@dataclass
class Prepared:
    """One parsed batch after normalisation: per record its Normalized, or the reason it is
    rejected; the fingerprint bits of its accepted structures by InChIKey."""

    batch: list[Parsed]
    outcomes: list[Normalized | str]
    fingerprints: dict[str, str]


def identify_all(texts: list[str], fingerprints: bool, each_new: bool = False) -> Structures:
    """Identity (and fingerprint, with the bits registry.ingest.fingerprints fills from the canonical
    SMILES) of each structure string: the part of a batch that runs in a worker. `each_new`:
    the strings are not expected to repeat across batches (a structure library), so each is
    parsed once for both instead of identified through the cache and parsed again."""
    identities: dict[str, Identity | str] = {}
    prints: dict[str, str] = {}
    for text in texts:
        try:
            if fingerprints and each_new:
                identity, bits = identify_fingerprinted(text)
                prints.setdefault(identity.inchikey, bits)
            else:
                identity = identify(text)
        except InvalidStructureError as exc:
            identities[text] = str(exc)
            continue
        identities[text] = identity
        if fingerprints and identity.inchikey not in prints:
            prints[identity.inchikey] = fingerprint_bits(identity.smiles)
    return Structures(identities, prints)


def _texts(batch: list[Parsed]) -> list[str]:
    """The distinct structure strings the batch's records give ('' included: its answer is
    'empty structure')."""
    return sorted({p.record.structure.text for p in batch if p.record is not None})


def _outcome(parsed: Parsed, identities: dict[str, Identity | str]) -> Normalized | str:
    if parsed.record is None:
        return parsed.reason or "unreadable record"
    if "\x00" in parsed.raw_text:
        return "holds a NUL byte (binary data inside the text)"

    def known(text: str) -> Identity:
        answer = identities[text]
        if isinstance(answer, str):
            raise InvalidStructureError(answer)
        return answer

    try:
        return normalize(parsed.record, known)
    except (RecordError, InvalidStructureError) as exc:
        return str(exc)


def _finish(batch: list[Parsed], structures: Structures) -> Prepared:
    """Normalise the batch's records with the identities found for it; keep the fingerprints
    of the structures that records are stored against."""
    outcomes = [_outcome(parsed, structures.identities) for parsed in batch]
    accepted = {o.inchikey for o in outcomes if isinstance(o, Normalized) and o.identity}
    prints = {k: bits for k, bits in structures.fingerprints.items() if k in accepted}
    return Prepared(batch, outcomes, prints)


def prepare_batch(batch: list[Parsed], fingerprints: bool) -> Prepared:
    """Normalise a batch and, if asked, fingerprint each distinct structure in it once."""
    return _finish(batch, identify_all(_texts(batch), fingerprints))


def prepared_batches(
    batches: Iterable[list[Parsed]], fingerprints: bool, workers: int = 0, each_new: bool = False
) -> Iterator[Prepared]:
    """Prepared batches in input order. With `workers` > 0 the structures are identified in
    that many processes (spawned: the parent holds database connections a fork would share),
    each keeping its cache of identities; `each_new` (structure libraries) parses each
    structure once for identity and fingerprint instead."""
    if workers <= 0:
        for batch in batches:
            yield prepare_batch(batch, fingerprints)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque[tuple[list[Parsed], Future]] = deque()
        for batch in batches:
            pending.append(
                (batch, pool.submit(identify_all, _texts(batch), fingerprints, each_new))
            )
            if len(pending) > workers + AHEAD:
                done, future = pending.popleft()
                yield _finish(done, future.result())
        while pending:
            done, future = pending.popleft()
            yield _finish(done, future.result())


@contextmanager
def collection_per_batch() -> Iterator[Callable[[], None]]:
    """Python's cycle collector run by the writer once per batch (the function given) instead
    of every 700 allocations: the batches in flight hold many small objects, which the
    automatic collector walks again and again (BENCHMARKS.md, the MS/MS ingest's writer).
    Parsed records make almost no reference cycles, so memory stays flat; the collector is back as it was when the block ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield lambda: gc.collect(1)
    finally:
        if enabled:
            gc.enable()
