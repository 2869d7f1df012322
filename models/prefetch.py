"""Featurise a stream of batches in worker processes a few batches ahead of whoever consumes
them (a model and the database writes), so RDKit's work runs on the cores the consumer leaves
free. Shared by the backfills of structure embeddings and of predicted CCS."""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

import torch

B = TypeVar("B")
F = TypeVar("F")


def featurised_ahead(
    batches: Iterable[B],
    featurise: Callable[[B], F],
    workers: int,
    share_cores: bool = True,
    min_batches: int = 2,
) -> Iterator[tuple[B, F]]:
    """Each batch with `featurise(batch)`, in the stream's order. With `workers`, that many
    spawned processes featurise up to `workers` batches ahead (`featurise` must be picklable: a
    module's function or a partial of one) and, with `share_cores` (a consumer on the CPU),
    torch's threads are limited to the cores they leave until the stream ends. A stream of
    fewer than `min_batches` batches (read ahead to tell), or no workers, is featurised inline:
    starting processes costs seconds, more than a short stream saves."""
    stream = iter(batches)
    head = list(itertools.islice(stream, min_batches))
    if workers <= 0 or len(head) < min_batches:
        for batch in itertools.chain(head, stream):
            yield batch, featurise(batch)
        return
    threads = torch.get_num_threads()
    if share_cores:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - workers))
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            pending: deque[tuple[B, Future]] = deque()
            for batch in itertools.chain(head, stream):
                pending.append((batch, pool.submit(featurise, batch)))
                if len(pending) > workers:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
    finally:
        torch.set_num_threads(threads)


def default_workers(device: torch.device) -> int:
    """Featurisation processes for the structure-embedding backfill: on CPU half the cores (the
    encoder's threads get the other half; measured best on 2 cores), with a GPU all cores but
    one. The CCS backfill, whose network is light, has its own (molvis/workflows/ccs_backfill.py)."""
    cores = os.cpu_count() or 1
    return max(1, cores - 1) if device.type != "cpu" else max(1, cores // 2)
