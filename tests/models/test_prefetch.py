"""Featurisation ahead of the consumer (models/prefetch.py): order, processes, torch's threads."""

import multiprocessing
import os

import torch

from models.prefetch import default_workers, featurised_ahead

BATCHES = [[1, 2], [3], [4, 5, 6], [7], [8, 9]]


def test_workers_featurise_ahead_and_keep_the_stream_order():
    threads = torch.get_num_threads()
    seen, children, threads_inside = [], [], []
    for batch, total in featurised_ahead(BATCHES, sum, workers=2):
        seen.append((batch, total))
        children.append(len(multiprocessing.active_children()))
        threads_inside.append(torch.get_num_threads())
    assert seen == [(b, sum(b)) for b in BATCHES]
    assert min(children) >= 1  # featurised in the pool's processes
    assert set(threads_inside) == {max(1, (os.cpu_count() or 1) - 2)}
    assert torch.get_num_threads() == threads and not multiprocessing.active_children()


def test_a_gpu_consumer_keeps_its_threads_and_one_batch_is_featurised_inline():
    threads = torch.get_num_threads()
    inside = [torch.get_num_threads() for _ in featurised_ahead(BATCHES, sum, 2, False)]
    assert set(inside) == {threads}
    for batch, total in featurised_ahead([[1, 2]], sum, workers=2):
        assert (batch, total) == ([1, 2], 3) and not multiprocessing.active_children()
    assert [t for _, t in featurised_ahead(BATCHES, sum, workers=0)] == [3, 3, 15, 7, 17]
    assert not multiprocessing.active_children()


def test_default_workers_leave_the_model_half_the_cores_on_a_cpu():
    cores = os.cpu_count() or 1
    assert default_workers(torch.device("cpu")) == max(1, cores // 2)
    assert default_workers(torch.device("cuda")) == max(1, cores - 1)


def test_a_stream_shorter_than_min_batches_is_featurised_inline():
    def children(min_batches: int) -> int:
        ahead = featurised_ahead(BATCHES, sum, workers=1, min_batches=min_batches)
        return max(len(multiprocessing.active_children()) for _ in ahead)

    assert children(len(BATCHES) + 1) == 0
    assert children(len(BATCHES)) == 1
