"""The pieces bond cleavage cuts out of a molecule, compiled with numba: breadth-first over
cleavage steps, each step cutting every bond whose loss splits a piece (its bridges, found by
Tarjan's depth-first pass) and every pair of bonds of one ring whose loss does. A piece is a row
of 64-bit words (bit i = atom i), so that molecules of any size are cut the same way.

This is registry/chem/fragmenter.py's inner loop: in Python it was half of a 1,000-candidate
search (bench/window_search.py)."""

from __future__ import annotations

import numba
import numpy as np

ONE = np.uint64(1)
MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing of a piece's words


@numba.njit(nogil=True, cache=True, inline="always")
def _has(words: np.ndarray, i: int) -> bool:
    return (words[i >> 6] >> np.uint64(i & 63)) & ONE != 0


@numba.njit(nogil=True, cache=True, inline="always")
def _add(words: np.ndarray, i: int) -> None:
    words[i >> 6] |= ONE << np.uint64(i & 63)


@numba.njit(nogil=True, cache=True)
def _component(start, piece, removed, indptr, nbr, nbond, out, stack) -> None:
    """out = the atoms of `piece` that `start` reaches without crossing a removed bond."""
    out[:] = 0
    _add(out, start)
    stack[0] = start
    top = 1
    while top:
        top -= 1
        node = stack[top]
        for k in range(indptr[node], indptr[node + 1]):
            other = nbr[k]
            if removed[nbond[k]] or not _has(piece, other) or _has(out, other):
                continue
            _add(out, other)
            stack[top] = other
            top += 1


@numba.njit(nogil=True, cache=True)
def _bridge_sides(piece, indptr, nbr, nbond, sides) -> int:
    """Fill sides[0:k] with the far side of each of the piece's k bridges (the depth-first
    subtree below the bridge); return k."""
    n = len(indptr) - 1
    order = np.full(n, -1, np.int64)
    low = np.zeros(n, np.int64)
    via = np.full(n, -1, np.int64)
    cursor = indptr[:-1].copy()
    subtree = np.zeros((n, piece.shape[0]), np.uint64)
    stack = np.empty(n, np.int64)
    start = 0
    while not _has(piece, start):
        start += 1
    order[start] = 0
    _add(subtree[start], start)
    stack[0] = start
    top, seen, found = 1, 1, 0
    while top:
        node = stack[top - 1]
        advanced = False
        while cursor[node] < indptr[node + 1]:
            k = cursor[node]
            cursor[node] += 1
            other, bond = nbr[k], nbond[k]
            if bond == via[node] or not _has(piece, other):
                continue
            if order[other] >= 0:
                low[node] = min(low[node], order[other])
                continue
            order[other] = low[other] = seen
            seen += 1
            via[other] = bond
            _add(subtree[other], other)
            stack[top] = other
            top += 1
            advanced = True
            break
        if not advanced:
            top -= 1
            if top:
                parent = stack[top - 1]
                low[parent] = min(low[parent], low[node])
                subtree[parent] |= subtree[node]
                if low[node] > order[parent]:
                    sides[found] = subtree[node]
                    found += 1
    return found


@numba.njit(nogil=True, cache=True)
def _ring_sides(piece, ring_bonds, ring_atoms, indptr, nbr, nbond, n_bonds, sides) -> int:
    """Fill sides with the arc side of each pair of the ring's bonds whose loss splits the
    piece; return how many. Without bonds b_i and b_j the ring falls into the arc v_i+1..v_j and
    the rest; each arc takes what its atoms reach without the ring's bonds, and the piece splits
    where the two share no atom."""
    r, width = len(ring_atoms), piece.shape[0]
    removed = np.zeros(n_bonds, np.bool_)
    removed[ring_bonds] = True
    hang = np.zeros((r, width), np.uint64)
    done = np.zeros(r, np.bool_)
    stack = np.empty(len(indptr) - 1, np.int64)
    for k in range(r):
        if done[k]:
            continue
        _component(ring_atoms[k], piece, removed, indptr, nbr, nbond, hang[k], stack)
        for other in range(k + 1, r):  # ring atoms joined another way reach the same atoms
            if _has(hang[k], ring_atoms[other]):
                hang[other] = hang[k]
                done[other] = True
    before = np.zeros((r + 1, width), np.uint64)  # before[k]: what v_0..v_k-1 reach
    after = np.zeros((r + 1, width), np.uint64)  # after[k]: what v_k..v_r-1 reach
    for k in range(r):
        before[k + 1] = before[k] | hang[k]
        after[r - 1 - k] = after[r - k] | hang[r - 1 - k]
    found = 0
    arc = np.zeros(width, np.uint64)
    for i in range(r):
        arc[:] = 0
        for j in range(i + 1, r):
            arc |= hang[j]
            if not np.any(arc & (after[j + 1] | before[i + 1])):
                sides[found] = arc
                found += 1
    return found


@numba.njit(nogil=True, cache=True)
def _insert(word_rows, count, table, candidate) -> int:
    """The row of `candidate` in word_rows[:count], or -1 after adding it at row `count`
    (an open-addressing table of row numbers, -1 where empty)."""
    h = np.uint64(0)
    for w in candidate:
        h = (h ^ w) * MIX
    mask = len(table) - 1
    slot = int(h >> np.uint64(40)) & mask
    while table[slot] >= 0:
        if np.all(word_rows[table[slot]] == candidate):
            return table[slot]
        slot = (slot + 1) & mask
    table[slot] = count
    word_rows[count] = candidate
    return -1


@numba.njit(nogil=True, cache=True)
def _keep(piece, sides, step, rows, steps, count, table, other) -> int:
    """Add both parts of `piece` that each side of `sides` splits it into, where new, as cut
    out at `step`, until the rows are full; return the new count."""
    for side in sides:
        for part in range(2):
            other[:] = side if part == 0 else piece & ~side
            if count < len(rows) and _insert(rows, count, table, other) < 0:
                steps[count] = step
                count += 1
    return count


@numba.njit(nogil=True, cache=True)
def cut_pieces(n_atoms, indptr, nbr, nbond, ring_ptr, ring_bonds, ring_atoms, depth, limit):
    """The molecule (row 0) and every piece up to `depth` cleavage steps cut out of it, each
    once at the fewest steps, at most `limit` pieces: (rows of atom words, steps)."""
    width = (n_atoms + 63) // 64
    n_bonds = len(nbr) // 2
    rows = np.zeros((limit, width), np.uint64)
    steps = np.zeros(limit, np.int64)
    size = 1
    while size < 4 * limit:
        size *= 2
    table = np.full(size, -1, np.int64)
    whole = np.zeros(width, np.uint64)
    for i in range(n_atoms):
        _add(whole, i)
    _insert(rows, 0, table, whole)
    count, first, last = 1, 0, 1
    most_ring = 0
    for k in range(len(ring_ptr) - 1):
        most_ring = max(most_ring, ring_ptr[k + 1] - ring_ptr[k])
    sides = np.zeros((max(n_atoms, most_ring * most_ring), width), np.uint64)
    other = np.zeros(width, np.uint64)
    for step in range(1, depth + 1):
        for parent in range(first, last):
            piece = rows[parent].copy()
            found = _bridge_sides(piece, indptr, nbr, nbond, sides)
            count = _keep(piece, sides[:found], step, rows, steps, count, table, other)
            for ring in range(len(ring_ptr) - 1):
                atoms = ring_atoms[ring_ptr[ring] : ring_ptr[ring + 1]]
                inside = True
                for a in atoms:
                    inside = inside and _has(piece, a)
                if not inside:  # a whole ring's bonds are never bridges
                    continue
                bonds = ring_bonds[ring_ptr[ring] : ring_ptr[ring + 1]]
                found = _ring_sides(piece, bonds, atoms, indptr, nbr, nbond, n_bonds, sides)
                count = _keep(piece, sides[:found], step, rows, steps, count, table, other)
        first, last = last, count
    return rows[:count], steps[:count]
