"""Flash entropy scoring of one query spectrum against the library index, compiled with numba
(a dependency of matchms): one pass over ms_entropy's index arrays gives the hybrid (or open)
scores of every library spectrum and, for the spectra of the precursor window, the identity
scores and matched peak counts; a large query's peaks are shared between two threads.

ms_entropy's own CPU search does the same arithmetic in NumPy per query peak (a dozen
temporaries per peak, the identity search a second pass over the peaks). Scores equal
ms_entropy's to float32 rounding (tested); measured in `bench/library_scale.py`."""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

SPLIT = 20_000  # matched library peaks above which a query's peaks are scored by two threads
BLOCK = 1024  # scores skipped at once when none beats the k-th best


@dataclass(frozen=True)
class Scores:
    """`scores`: hybrid (open without a precursor) similarity per index position; `window`
    and `matched`: identity similarity and matched query peaks per position of the window."""

    scores: np.ndarray
    window: np.ndarray
    matched: np.ndarray


def library_terms(intensity: np.ndarray) -> np.ndarray:
    """i log2 i of each indexed peak: the library's share of every entropy term, computed
    once at load as ms_entropy computes it per query."""
    return intensity * np.log2(intensity)


def score(
    core, terms, precursor_mz: float | None, peaks, tolerance: float, window: slice, split=SPLIT
) -> Scores:
    """Score cleaned `peaks` against ms_entropy index `core` (`terms`: the ions' and neutral
    losses' `library_terms`); neutral losses are matched only with a precursor. Above `split`
    matched library peaks, the query's peaks are shared between this thread and another."""
    weighted = core._preprocess_peaks(peaks)  # ms_entropy's entropy weighting, halved
    ions_start, ions_mz, ions_intensity, ions_spectrum = core.index[:4]
    nl_start, nl_mass, nl_intensity, nl_spectrum, ions_for_nl = core.index[4:]
    mz = np.ascontiguousarray(weighted[:, 0])
    ranges = _ranges(
        mz,
        float(precursor_mz) if precursor_mz else -1.0,
        float(tolerance),
        float(core.mz_index_step),
        ions_start,
        ions_mz,
        nl_start,
        nl_mass,
    )
    arguments = (
        np.ascontiguousarray(weighted[:, 1]),
        *ranges,
        window.start,
        window.stop,
        int(core.total_spectra_num),
        ions_spectrum,
        terms[0],
        ions_intensity,
        nl_spectrum,
        terms[1],
        nl_intensity,
        ions_for_nl,
    )
    first, last, low, high = ranges
    work = np.cumsum((last - first) + (high - low))
    if len(mz) < 2 or work[-1] <= split:
        return Scores(*_accumulate(0, len(mz), *arguments))
    half = min(int(np.searchsorted(work, work[-1] / 2)) + 1, len(mz) - 1)
    other = _other_thread(os.getpid()).submit(_accumulate, half, len(mz), *arguments)
    scores, in_window, matched = _accumulate(0, half, *arguments)
    more = other.result()
    return Scores(scores + more[0], in_window + more[1], matched + more[2])


@functools.cache
def _other_thread(pid: int) -> ThreadPoolExecutor:
    """The helper thread of process `pid`: a forked child gets its own, as the parent's thread
    does not exist there."""
    return ThreadPoolExecutor(1, thread_name_prefix=f"molvis-library-{pid}")


@numba.njit(nogil=True, cache=True)
def _locate(wanted, values, starts, step, right):  # pragma: no cover - compiled
    """ms_entropy's `_find_location_from_array_with_index`: the lookup table narrows the
    sorted m/z array to a few entries, searched in double precision."""
    low = int(np.floor(wanted / step - 0.5))
    first = starts[-1] if low >= len(starts) else starts[low]
    last = len(values) if low + 2 >= len(starts) else starts[low + 2] + 1
    if right:
        return first + np.searchsorted(values[first:last], wanted, side="right")
    return first + np.searchsorted(values[first:last], wanted, side="left")


@numba.njit(nogil=True, cache=True)
def _ranges(
    mz, precursor_mz, tolerance, step, ions_start, ions_mz, nl_start, nl_mass
):  # pragma: no cover - compiled
    """Per query peak, the index ranges of the fragments within `tolerance` and (with a
    precursor) of the neutral losses within `tolerance` of its own loss."""
    n = len(mz)
    first = np.empty(n, np.int64)
    last = np.empty(n, np.int64)
    low = np.zeros(n, np.int64)
    high = np.zeros(n, np.int64)
    for p in range(n):
        first[p] = _locate(np.float64(mz[p]) - tolerance, ions_mz, ions_start, step, False)
        last[p] = _locate(np.float64(mz[p]) + tolerance, ions_mz, ions_start, step, True)
        if precursor_mz > 0:
            loss = precursor_mz - np.float64(mz[p])
            low[p] = _locate(loss - tolerance, nl_mass, nl_start, step, False)
            high[p] = _locate(loss + tolerance, nl_mass, nl_start, step, True)
    return first, last, low, high


@numba.njit(nogil=True, cache=True)
def _in_a_range(position, starts, stops):  # pragma: no cover - compiled
    """Whether `position` lies in one of the sorted, disjoint [start, stop) ranges."""
    first_beyond = np.searchsorted(stops, position, side="right")  # first stop > position
    return first_beyond < len(stops) and starts[first_beyond] <= position


@numba.njit(nogil=True, cache=True)
def _accumulate(
    peak_from,
    peak_to,
    intensity,
    first,
    last,
    low,
    high,
    window_start,
    window_stop,
    spectra,
    ions_spectrum,
    ions_term,
    ions_intensity,
    nl_spectrum,
    nl_term,
    nl_intensity,
    ions_for_nl,
):  # pragma: no cover - compiled
    # ms_entropy's search_hybrid, fused, for query peaks [peak_from, peak_to): each peak's
    # fragments add their entropy terms, then its neutral losses do, except in a spectrum
    # this peak already matched as a fragment, or where the loss's own fragment matched any
    # query peak
    scores = np.zeros(spectra, np.float32)
    marked = np.zeros(spectra, np.bool_)
    in_window = np.zeros(window_stop - window_start, np.float32)
    matched = np.zeros(window_stop - window_start, np.int32)
    for p in range(peak_from, peak_to):
        query = intensity[p]
        query_term = query * np.log2(query)
        for j in range(first[p], last[p]):
            mixed = ions_intensity[j] + query
            value = mixed * np.log2(mixed) - ions_term[j] - query_term
            s = ions_spectrum[j]
            scores[s] += value
            marked[s] = True
            if window_start <= s < window_stop:
                in_window[s - window_start] += value
                matched[s - window_start] += 1
        for j in range(low[p], high[p]):
            s = nl_spectrum[j]
            if marked[s] or _in_a_range(np.int64(ions_for_nl[j]), first, last):
                continue
            mixed = nl_intensity[j] + query
            scores[s] += mixed * np.log2(mixed) - nl_term[j] - query_term
        for j in range(first[p], last[p]):
            marked[ions_spectrum[j]] = False
    return scores, in_window, matched


@numba.njit(nogil=True, cache=True)
def best(scores, modes, mode, k):  # pragma: no cover - compiled
    """Positions of the `k` highest positive scores, best first, skipping spectra of the
    other polarity (`mode` 1/-1; 0 keeps all); ties keep index order, as a stable sort does.
    One pass, blocks below the k-th score skipped: partitioning every scored position was
    the slowest step of a query at 1M spectra (docs/SCALING.md, section 4)."""
    positions = np.empty(max(k, 0), np.int64)
    values = np.empty(max(k, 0), np.float32)
    found = 0
    if k <= 0:
        return positions
    for block in range(0, len(scores), BLOCK):
        floor = values[k - 1] if found == k else np.float32(0)
        if _largest(scores[block : block + BLOCK]) <= floor:
            continue
        for i in range(block, min(block + BLOCK, len(scores))):
            value = scores[i]
            if value <= 0 or (found == k and value <= values[k - 1]):
                continue
            if mode != 0 and modes[i] == -mode:
                continue
            j = found if found < k else k - 1
            found = min(found + 1, k)
            while j > 0 and values[j - 1] < value:
                positions[j] = positions[j - 1]
                values[j] = values[j - 1]
                j -= 1
            positions[j] = i
            values[j] = value
    return positions[:found]


@numba.njit(nogil=True, cache=True, fastmath=True)
def _largest(values):  # pragma: no cover - compiled
    """The largest of `values` and 0 (vectorised: fastmath lets the maximum reorder)."""
    largest = np.float32(0)
    for value in values:
        largest = max(largest, value)
    return largest
