"""Exact training of the smallest networks by enumeration: one hidden layer of one or two units
on a two-class problem (docs/design.md §4, "Proving lower bounds").

A hidden unit ``[w . x + b >= 0]`` with ``w`` in ``[-B, B]^n`` is the halfspace
``{x : w . x >= t}`` (``t = -b``), and because the bias bound covers every threshold, the family
is closed under complement (``[-w . x + t - 1 >= 0]``). With two classes the output layer is a
threshold function of the hidden bits, so the set of rows a network puts in one class is one of

* a constant (every row, or none);
* a halfspace ``A`` (the output reads one unit);
* an intersection ``A & B`` of two halfspaces (one hidden cell gives that class), for either
  class (three cells give the other class).

Which of these the output layer can realise, and that the objective's loss of a row is 1 exactly
when the predicted class is not its label, is checked by trying every output layer within its
bounds (:func:`output_tables`), so the search is exact for the architecture as given.

The search itself, for a loss below ``below`` (at most ``k = below - 1`` errors): a halfspace
that leaves out more than ``k`` rows of the class it must hold cannot be part of such a network,
and of the thresholds that leave out the same rows of that class the highest takes in fewest rows
of the other class, so per weight vector only the ``k + 1`` thresholds at the lowest projections
of that class's rows are candidates. Every pair of distinct candidate row sets (bitsets over the
rows, repeated inputs counted as often as they occur) that no other candidate dominates is then
scored with popcounts. bcw's training half (351 rows, 9 inputs at 4 bits, ternary weights:
19,683 weight vectors) with 2 units and ``k = 3`` takes about 3.4 s (docs/benchmarks.md §10),
where CP-SAT left the question open after ten minutes.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..network import Layer, Network, layer_bias_bound
from ..objective import Objective
from ..quantizer import Quantizer
from .architecture import Architecture
from .rows import UniqueRows

# Weight vectors of one hidden unit beyond which the enumeration is not tried ((2B + 1)^n).
MAX_DIRECTIONS = 600_000
# Output layers tried when reading which class regions the output can express.
MAX_OUTPUT_LAYERS = 2_000_000
# Pair scores computed per block (bounds the memory of one block: about 9 bytes each).
PAIR_BLOCK = 4_000_000
# Weight vectors projected per block while making the candidates.
DIRECTION_BLOCK = 20_000
# Distinct candidate row sets beyond which the search gives up (bitsets and the pair scan's
# 0/1 matrix are held in memory: about 1 KB per set for 500 rows).
MAX_CANDIDATES = 1_000_000
# Candidate sets beyond which the dominance filter is skipped: it compares sets pairwise in
# bitsets, and on hundreds of thousands of sets (uniform-10's centre: 285,832) it costs more
# than the matrix-product pair scan it would shorten.
DOMINANCE_MAX = 100_000
# Pairs scored per second, more than the scan reaches on 2 cores (about 1.5e8 on uniform-10's
# centre): with ``give_up``, candidates that could not be paired in time even at this pace
# stop the search before they are all made.
PAIRS_PER_SECOND_AT_BEST = 1e9
# With ``give_up``, the pair scan stops as hopeless when, after this many seconds of it, the
# measured rate says the rest would not finish before the deadline.
RATE_SECONDS = 1.0


@dataclass(frozen=True)
class OutputTable:
    """One realisable output behaviour: the class of every hidden cell (cell ``c`` is the
    hidden bits of ``c``'s binary digits, unit 0 the highest), and an output layer giving it."""

    classes: tuple[int, ...]
    weights: np.ndarray  # [n_outputs, hidden]
    bias: np.ndarray  # [n_outputs]


def _cells(hidden: int) -> np.ndarray:
    """Every hidden bit pattern, unit 0 first: int64 [2^hidden, hidden]."""
    return np.array(list(itertools.product((0, 1), repeat=hidden)), dtype=np.int64)


def n_directions(arch: Architecture) -> int:
    """Weight vectors of one first-layer unit: ``(2 B + 1)^n``."""
    return (2 * arch.weight_bounds[0] + 1) ** arch.n_inputs


def candidates_fit(arch: Architecture, thresholds: int) -> bool:
    """Whether ``thresholds`` candidates per weight vector stay within ``MAX_CANDIDATES``
    even if every one is distinct (for "a loss below b", at most b thresholds per weight
    vector and class): then the scan of every row is tried first."""
    return n_directions(arch) * max(int(thresholds), 1) <= MAX_CANDIDATES


def _output_bias_bound(arch: Architecture) -> int:
    """The output layer's bias bound (``Network.bias_bound`` of the last layer)."""
    return layer_bias_bound(arch.weight_bounds[1], arch.hidden[0], arch.activation.input_range)


def unsupported(arch: Architecture, objective: Objective) -> str | None:
    """Why the enumeration does not apply to ``arch`` and ``objective`` (None: it does)."""
    if len(arch.hidden) != 1 or arch.hidden[0] > 2:
        return "only one hidden layer of 1 or 2 units is enumerated"
    if arch.n_classes != 2:
        return "only two-class problems are enumerated"
    if n_directions(arch) > MAX_DIRECTIONS:
        return f"more than {MAX_DIRECTIONS:,} weight vectors per hidden unit"
    n_out, h, wb = arch.n_outputs, arch.hidden[0], arch.weight_bounds[1]
    bias = _output_bias_bound(arch)
    if (2 * wb + 1) ** (n_out * h) * (2 * bias + 1) ** n_out > MAX_OUTPUT_LAYERS:
        return "the output layer has too many settings to enumerate"
    tables = output_tables(arch, objective)
    if tables is None:
        return f"the {objective.name} objective's loss is not the error count here"
    for t in tables:
        if _region_kind(t.classes, 1) is None:
            return "the output layer can express a region other than halfspaces and their " \
                   "intersections"
    return None


@functools.lru_cache(maxsize=32)  # asked by unsupported() and again by the search
def output_tables(arch: Architecture, objective: Objective) -> list[OutputTable] | None:
    """Every class-per-cell table some output layer within its bounds gives (one layer each),
    or None when some output layer's loss on a row is not ``predicted class != label``."""
    h, n_out, wb = arch.hidden[0], arch.n_outputs, arch.weight_bounds[1]
    x = arch.activation.read(_cells(h))  # what the output layer reads, per cell
    bias_max = _output_bias_bound(arch)
    biases = np.array(list(itertools.product(range(-bias_max, bias_max + 1), repeat=n_out)),
                      dtype=np.int64)  # [nb, n_out]
    found: dict[tuple[int, ...], OutputTable] = {}
    labels = [np.full(len(x) * len(biases), c, dtype=np.int64) for c in (0, 1)]
    for flat in itertools.product(range(-wb, wb + 1), repeat=n_out * h):
        W = np.array(flat, dtype=np.int64).reshape(n_out, h)
        # scores of every cell under every bias vector: [cells * nb, n_out]
        scores = ((x @ W.T)[:, None, :] + biases[None, :, :]).reshape(-1, n_out)
        pred = arch.output.predict(scores)
        for c in (0, 1):
            if not np.array_equal(objective.row_losses(scores, labels[c], arch.output),
                                  (pred != c).astype(np.int64)):
                return None
        per_bias = pred.reshape(len(x), len(biases)).T  # [nb, cells]
        uniq, first = np.unique(per_bias, axis=0, return_index=True)
        for table, i in zip(uniq, first, strict=True):
            key = tuple(int(v) for v in table)
            if key not in found:
                found[key] = OutputTable(key, W, biases[i].copy())
    return list(found.values())


def _region_kind(classes: tuple[int, ...], inside: int) -> tuple | None:
    """What rows a table puts in class ``inside``: ("all",), ("none",), ("single", unit,
    value) (the cells where that unit's bit is ``value``), ("pair", cell) (that one cell); for
    the other class's view use ``1 - inside``. None for anything else (e.g. exclusive or)."""
    cells = _cells(int(np.log2(len(classes))))
    mine = np.array(classes) == inside
    if mine.all():
        return ("all",)
    if not mine.any():
        return ("none",)
    for u in range(cells.shape[1]):
        for v in (0, 1):
            if np.array_equal(mine, cells[:, u] == v):
                return ("single", u, v)
    if mine.sum() == 1:
        return ("pair", tuple(int(b) for b in cells[np.flatnonzero(mine)[0]]))
    if (~mine).sum() == 1:
        return ("pair-other",)  # the other class's one cell: found with inside = 1 - inside
    return None


@dataclass
class Enumeration:
    """What the search found. ``status``: "OPTIMAL" (``loss`` is the minimum over every
    network), "INFEASIBLE" (every network's loss is at least ``below``), "FEASIBLE" (time ran
    out after finding ``loss < below``) or "UNKNOWN" (time ran out before)."""

    status: str
    loss: int | None = None
    network: Network | None = None
    candidates: int = 0  # distinct candidate row sets
    kept: int = 0  # of them, those no other candidate dominates (the ones paired)
    pairs: int = 0
    seconds: float = 0.0
    hopeless: bool = False  # stopped early: would not finish in time (``give_up``)


def _halfspace_unit(w: np.ndarray, t: int, keep: int) -> tuple[np.ndarray, int]:
    """The hidden unit (weights, bias) whose bit is ``keep`` exactly on ``{w . x >= t}``."""
    if keep == 1:
        return w.astype(np.int64), int(-t)
    return (-w).astype(np.int64), int(t - 1)  # the complement: -w . x >= 1 - t


def enumerate_best(arch: Architecture, rows: UniqueRows, objective: Objective, below: int,
                   deadline: float, *, quantizer: Quantizer | None = None,
                   classes: list | None = None,
                   progress: Callable[[str], None] | None = None,
                   give_up: bool = False) -> Enumeration:
    """The network with the smallest loss below ``below`` on ``rows``, by the exhaustive search
    of the module docstring, or the proof that none exists; stops at ``deadline``
    (``time.monotonic()``), and with ``give_up`` as soon as it is clear that it would not
    finish by then (``hopeless``: too many candidates, or the measured pair rate). Raises
    ``ValueError`` when :func:`unsupported` says it does not apply."""
    reason = unsupported(arch, objective)
    if reason is not None:
        raise ValueError(reason)
    t_start = time.monotonic()
    out = Enumeration("INFEASIBLE")
    k = int(below) - 1  # most errors allowed
    tables = output_tables(arch, objective)
    assert tables is not None
    h = arch.hidden[0]
    Q = np.minimum(np.asarray(rows.Q, dtype=np.int64), arch.max_level)
    counts = np.asarray(rows.counts, dtype=np.int64)
    total = counts.sum(axis=0)
    best: tuple | None = None  # (loss, kind, inside, table, A, B)

    def offer(loss: int, *what) -> None:
        nonlocal best
        if loss <= k and (best is None or loss < best[0]):
            best = (int(loss), *what)

    kinds: dict[tuple[str, int], OutputTable] = {}
    for t in tables:
        for inside in (0, 1):
            kind = _region_kind(t.classes, inside)
            kinds.setdefault((kind[0], inside), t)
    for inside in (0, 1):  # constants: every row in class ``inside``
        if ("all", inside) in kinds:
            offer(int(total[1 - inside]), "all", inside, kinds[("all", inside)], None, None)
    wb = arch.weight_bounds[0]
    directions = np.array(list(itertools.product(range(-wb, wb + 1), repeat=arch.n_inputs)),
                          dtype=np.int64)
    for inside in (0, 1):
        mode = "pair" if h == 2 and ("pair", inside) in kinds else (
            "single" if ("single", inside) in kinds else None)
        P = np.repeat(np.arange(rows.n_rows), counts[:, inside])  # rows that must be inside
        N = np.repeat(np.arange(rows.n_rows), counts[:, 1 - inside])
        if mode is None or k < 0 or len(P) == 0:
            continue
        made = _candidates(directions, Q, P, N, k, limit=MAX_CANDIDATES, deadline=deadline,
                           give_up=give_up)
        if made is None:  # too many, or out of time (hopeless either way)
            out.status, out.hopeless = "UNKNOWN", True
            break
        sets, origin = made
        out.candidates += len(sets)
        nwP = (len(P) + 63) // 64
        if len(sets) <= DOMINANCE_MAX:
            sets, origin, hopeless = _undominated(sets, origin, nwP, deadline, give_up)
            if hopeless:
                out.status, out.hopeless = "UNKNOWN", True
                break
        out.kept += len(sets)
        # a row is wrong iff it is in the intersection xor it is one that must be in it
        must = np.concatenate([_pack(np.ones((1, len(P)), dtype=bool)),
                               _pack(np.zeros((1, len(N)), dtype=bool))], axis=1)[0]
        if mode == "single":
            err = _popcount(sets ^ must)
            i = int(np.argmin(err))
            offer(int(err[i]), "single", inside, kinds[("single", inside)], origin[i], None)
            continue
        found = _best_pair(sets, must, k if best is None else best[0] - 1, deadline,
                           progress, inside, give_up)
        out.pairs += found[3]
        if found[0] is not None:
            offer(found[0], "pair", inside, kinds[("pair", inside)], origin[found[1]],
                  origin[found[2]])
        if found[4] != "done":  # out of time, or would be
            out.status, out.hopeless = "UNKNOWN", found[4] == "hopeless"
            break
    out.seconds = time.monotonic() - t_start
    if best is not None:
        out.loss = best[0]
        out.status = "OPTIMAL" if out.status != "UNKNOWN" else "FEASIBLE"
        out.network = _network(arch, directions, best, quantizer, classes)
        # the numpy forward pass on every row (repeated inputs as often as they occur)
        Qe = np.concatenate([np.repeat(Q, counts[:, c], axis=0) for c in (0, 1)])
        ye = np.repeat(np.array([0, 1], dtype=np.int64), total)
        got = objective.loss(out.network, Qe, ye)
        if got != out.loss:
            raise RuntimeError(f"internal error: enumerated loss {out.loss}, network's {got}")
    return out


def _popcount(bits: np.ndarray) -> np.ndarray:
    """Set bits per row of a uint64 matrix."""
    return np.bitwise_count(bits).sum(axis=-1, dtype=np.int64)


def _pack(mask: np.ndarray) -> np.ndarray:
    """Boolean rows [m, n] as uint64 bitsets [m, ceil(n / 64)]."""
    b = np.packbits(mask, axis=1)
    pad = (-b.shape[1]) % 8
    if pad:
        b = np.pad(b, ((0, 0), (0, pad)))
    return np.ascontiguousarray(b).view(np.uint64)


def _candidates(directions: np.ndarray, Q: np.ndarray, P: np.ndarray, N: np.ndarray,
                k: int, limit: int = 0, deadline: float | None = None, give_up: bool = False
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct candidate row sets (uint64 bitsets over P then N) and, for each, one
    (direction index, threshold) that makes it; None when more than ``limit`` (if > 0) sets
    are left after each block of directions drops its repeats, past ``deadline``, or (with
    ``give_up``) when the sets counted so far, extrapolated to every direction, could not be
    paired by the deadline even at ``PAIRS_PER_SECOND_AT_BEST``. Only distinct thresholds are
    tried per direction: on rows that take few levels (uniform-10's noisy centre, 2 levels per
    input) most of the ``k + 1`` lowest projections repeat."""
    sets, origin = [], []
    held = 0
    # a small first block, so that a hopeless search is seen after a fraction of a second
    starts = [0, *range(DIRECTION_BLOCK // 10, len(directions), DIRECTION_BLOCK)]
    for s, e in zip(starts, [*starts[1:], len(directions)], strict=True):
        if deadline is not None and s:
            left = deadline - time.monotonic()
            expected = held * len(directions) / s
            if left < 0 or (give_up and expected ** 2 / 2 / PAIRS_PER_SECOND_AT_BEST > left):
                return None
        D = directions[s:e]
        proj = D @ Q.T  # [d, U]
        pP, pN = proj[:, P], proj[:, N]
        sP = np.sort(pP, axis=1)
        block_sets, block_origin = [], []
        for j in range(min(k + 1, len(P))):
            use = np.arange(len(D)) if j == 0 else np.flatnonzero(sP[:, j] != sP[:, j - 1])
            if len(use) == 0:
                continue
            t = sP[use, j:j + 1]
            block_sets.append(np.concatenate([_pack(pP[use] >= t), _pack(pN[use] >= t)],
                                             axis=1))
            block_origin.append(np.stack([s + use, t[:, 0]], axis=1))
        B = np.concatenate(block_sets)
        _, first = np.unique(B, axis=0, return_index=True)
        first = np.sort(first)
        sets.append(B[first])
        origin.append(np.concatenate(block_origin)[first])
        held += len(first)
        if limit and held > limit:
            return None
    S = np.concatenate(sets)
    made = np.concatenate(origin)
    _, first = np.unique(S, axis=0, return_index=True)
    first = np.sort(first)
    return np.ascontiguousarray(S[first]), made[first]


def _undominated(sets: np.ndarray, origin: np.ndarray, nwP: int, deadline: float,
                 give_up: bool = False) -> tuple[np.ndarray, np.ndarray, bool]:
    """The candidates no other one dominates: A is dominated by B when B holds every row of
    the must-be-inside class that A holds and no row of the other class that A leaves out, so
    ``B & C`` has no more errors than ``A & C`` for every C.

    Candidates are grouped by their must-be-inside rows; a group is checked against the kept
    members of the groups that hold a superset of its rows (processed first: they hold more)
    and its own members with fewer other-class rows. By transitivity, checking against kept
    candidates only is enough. Past ``deadline`` the unchecked candidates are all kept (the
    filter only speeds the pairing up). The flag returned is True when ``give_up`` stopped it
    early because, at its pace so far (assumed quadratic), it would not end by ``deadline``."""
    SP, SN = sets[:, :nwP], sets[:, nwP:]
    groups, gid = np.unique(SP, axis=0, return_inverse=True)
    gid = gid.reshape(-1)
    n_other = _popcount(SN)
    members = np.argsort(gid * (SN.shape[1] * 64 + 1) + n_other, kind="stable")
    bounds = np.searchsorted(gid[members], np.arange(len(groups) + 1))
    gorder = np.argsort(-_popcount(groups), kind="stable")
    kept_sets: list[np.ndarray] = [np.empty((0, SN.shape[1]), dtype=np.uint64)] * len(groups)
    done = np.zeros(len(groups), dtype=bool)
    kept: list[np.ndarray] = []
    started = time.monotonic()
    checked = 0
    for pos, g in enumerate(gorder):
        idx = members[bounds[g]:bounds[g + 1]]
        now = time.monotonic()
        if now > deadline:
            kept += [members[bounds[h]:bounds[h + 1]] for h in gorder[pos:]]
            break
        if give_up and now - started > RATE_SECONDS and \
                (now - started) * (len(sets) / max(checked, 1)) ** 2 > deadline - started:
            return sets, origin, True
        checked += len(idx)
        supers = np.flatnonzero(done & ((groups & groups[g]) == groups[g]).all(axis=1))
        K = np.concatenate([kept_sets[h] for h in supers]) if len(supers) else kept_sets[g]
        mine: list[int] = []
        block = max(1, min(256, PAIR_BLOCK // max(1, (len(K) + 256) * SN.shape[1])))
        for s in range(0, len(idx), block):
            A = SN[idx[s:s + block]]
            K_all = np.concatenate([K, SN[mine]]) if mine else K
            dom = ((K_all[None, :, :] & ~A[:, None, :]) == 0).all(axis=2).any(axis=1)
            inner = ((A[None, :, :] & ~A[:, None, :]) == 0).all(axis=2)
            inner &= np.tri(len(A), k=-1, dtype=bool)  # [a, b]: b (earlier) dominates a
            mine += [int(i) for i, d, row in zip(idx[s:s + block], dom, inner, strict=True)
                     if not d and not row.any()]
        kept_sets[g] = SN[mine]
        done[g] = True
        kept.append(np.array(mine, dtype=np.int64))
    kept_idx = np.sort(np.concatenate(kept)) if kept else np.zeros(0, dtype=np.int64)
    return np.ascontiguousarray(sets[kept_idx]), origin[kept_idx], False


def _scores_matrix(sets: np.ndarray, must: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The candidates as a 0/1 matrix over the rows they can differ on, for pair scoring by
    matrix products: (member [M, C] float, weight [C], rows that must be inside). A pair's
    errors are ``n_must + sum_c weight_c A_c B_c`` (a row of the must-be-inside class inside
    both is right: -1; of the other class: +1). Identical columns (an input repeated, with
    either label) are merged with their weights added; columns whose weight is 0 (a row that
    occurs with both labels equally often: always one error, counted in ``n_must``) and
    columns no candidate holds are dropped."""
    M, words = sets.shape
    bits = np.unpackbits(sets.view(np.uint8), axis=1, count=words * 64)
    must_bits = np.unpackbits(must.view(np.uint8), count=words * 64)
    used = bits.any(axis=0)
    weight = np.where(must_bits[used] == 1, -1, 1).astype(np.int64)
    cols, inverse = np.unique(bits[:, used].T, axis=0, return_inverse=True)
    merged = np.zeros(len(cols), dtype=np.int64)
    np.add.at(merged, inverse.reshape(-1), weight)
    keep = merged != 0
    dtype = np.float32 if int(must_bits.sum()) + len(weight) < 2**24 else np.float64
    return (np.ascontiguousarray(cols[keep].T, dtype=dtype), merged[keep].astype(dtype),
            int(must_bits.sum()))


def _best_pair(sets: np.ndarray, must: np.ndarray, k: int, deadline: float,
               progress: Callable[[str], None] | None, inside: int, give_up: bool
               ) -> tuple[int | None, int, int, int, str]:
    """The pair (i <= j) of candidate sets whose intersection has the fewest errors
    (``popcount((A & B) ^ must)``), if at most ``k``: (errors or None, i, j, pairs scored,
    "done" / "timeout" / "hopeless").

    Scored as matrix products (``_scores_matrix``: BLAS, every core), in tiles of
    ``PAIR_BLOCK`` pairs. A pair has at least as many errors as either set leaves out rows of
    the must-be-inside class, so the candidates go in that order and the scan stops, and each
    tile's partners end, where that count exceeds the best so far."""
    member, weight, n_must = _scores_matrix(sets, must)
    M = len(member)
    miss = np.rint(n_must - member @ np.maximum(-weight, 0)).astype(np.int64)
    order = np.argsort(miss, kind="stable")
    member, miss = member[order], miss[order]
    weighted = member * weight
    best, bi, bj, scored = None, -1, -1, 0
    started = last = time.monotonic()

    def found(how: str) -> tuple[int | None, int, int, int, str]:
        """The result, with the pair's indices in the caller's order (not the sorted one)."""
        if best is None:
            return None, -1, -1, scored, how
        return best, int(order[bi]), int(order[bj]), scored, how

    a_block = max(1, min(M, int(np.sqrt(PAIR_BLOCK))))
    i = 0
    while i < M and miss[i] <= k:
        end = int(np.searchsorted(miss, k, side="right"))  # partners that can still do
        a_end = min(i + a_block, end)
        b_block = max(1, PAIR_BLOCK // (a_end - i))
        for j in range(i, end, b_block):
            now = time.monotonic()
            if now > deadline:
                return found("timeout")
            if give_up and now - started > RATE_SECONDS and scored:
                rest = (end - i) ** 2 / 2  # at most, with the partners as they end now
                if rest * (now - started) / scored > deadline - now:
                    return found("hopeless")
            j_end = min(j + b_block, end)
            err = weighted[i:a_end] @ member[j:j_end].T
            if j < a_end:  # each unordered pair once: partners j' >= i'
                err[np.arange(i, a_end)[:, None] > np.arange(j, j_end)[None, :]] = np.inf
            f = int(np.argmin(err))
            e = int(np.rint(err.flat[f])) + n_must
            scored += err.size
            if e <= k:
                best, bi, bj = e, i + f // err.shape[1], j + f % err.shape[1]
                k = e - 1
                if j_end > int(np.searchsorted(miss, k, side="right")):
                    break  # the partners end earlier now
        i = a_end
        if progress is not None and time.monotonic() - last > 10:
            last = time.monotonic()
            progress(f"enumeration (class {inside} inside): {i:,} of {M:,} candidates as "
                     f"the first, best {best if best is not None else '-'}")
    return found("done")


def _network(arch: Architecture, directions: np.ndarray, best: tuple,
             quantizer: Quantizer | None, classes: list | None) -> Network:
    """The network of a search result (loss, kind, inside, table, A, B)."""
    _, kind, inside, table, A, B = best
    h, n = arch.hidden[0], arch.n_inputs
    W1 = np.zeros((h, n), dtype=np.int64)
    b1 = np.zeros(h, dtype=np.int64)
    region = _region_kind(table.classes, inside)
    if kind == "single":
        _, u, v = region
        W1[u], b1[u] = _halfspace_unit(directions[A[0]], int(A[1]), v)
    elif kind == "pair":
        cell = region[1]
        for u, (d, t) in enumerate((A, B)):
            W1[u], b1[u] = _halfspace_unit(directions[d], int(t), cell[u])
    q = quantizer if quantizer is not None else Quantizer.identity(
        n, max(1, int(arch.max_level).bit_length()))
    return Network(q, [Layer(W1, b1, arch.weight_bounds[0]),
                       Layer(table.weights, table.bias, arch.weight_bounds[1])],
                   classes=list(classes) if classes is not None else [0, 1],
                   activation=arch.activation, output=arch.output,
                   training={"origin": "exhaustive enumeration of halfspaces"})


__all__ = ["Enumeration", "OutputTable", "enumerate_best", "output_tables", "unsupported"]
