"""Lower bounds that move: subset bounds by row generation, and their certificates
(docs/design.md §4, "Proving lower bounds").

The optimum of the training loss on any subset S of the distinct training rows is a lower bound
for the whole set (same architecture, weight bounds and objective): every network's loss on all
rows is at least its loss on S. Rows outside S still carry their own unavoidable loss (equal
inputs with different labels, ``Objective.lower_bound``), and because S holds whole distinct rows
(every label of an input), the two parts share no row: ``bound = opt(S) + data_bound(rest)``.

``prove_bound`` grows S by row generation: solve S to optimality (``solve_subset``: one
feasibility question per bound value, "is there a network with loss <= b on S?", from the best
known lower bound up; each infeasible answer is a proof); if the subset's optimal network has
the same loss on every row, it is optimal for the whole set; otherwise add distinct rows it
gets wrong and solve again. Every proven subset optimum is a bound, and the best one is written as a
certificate that ``check_certificate`` re-proves from the file alone (the subset's rows are in
it) and, given the data, checks the data side (fingerprint, the subset's rows, the rest's data
bound).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools import __version__ as ORTOOLS_VERSION

from ..errors import BDNNError
from ..network import Network
from ..objective import Objective, get_objective
from ..progress import progress_line
from ..quantizer import Quantizer
from . import halfspaces
from .architecture import Architecture
from .cpsat_model import BDNNCpModel, ModelOptions
from .problem import TrainProblem
from .result import TrainResult
from .rows import UniqueRows
from .safe_solver import interrupt_requested
from .solver import SolveOptions, data_fingerprint, found_solution, solve_model, status_name

CERTIFICATE_FORMAT = "bdnn-certificate"
# Version 1 holds one subset ("subset"); version 2 several disjoint ones ("subsets"), written
# for a bound from disjoint blocks only. A checker reads both.
CERTIFICATE_VERSION = 1
CERTIFICATE_VERSIONS = (1, 2)
# Distinct rows added per round: the rows the subset's optimal network gets wrong, at most this
# many (the subset's solve time grows quickly with its size; few rows per round keep it small).
ROWS_PER_ROUND = 4
# The first subset takes no more wrong rows once it holds this many distinct rows (uniform-10's
# incumbent is wrong on 60 rows: with their neighbours, a first subset of 115 rows was never
# closed in 450 s; capped, a 29-row core was proven, benchmarks/results/prove2.json).
FIRST_SUBSET_ROWS = 16
# Share of the proof's time the whole-set question ("any network better than the incumbent?")
# gets before row generation takes the rest.
WHOLE_SET_SHARE = 0.75
# A proof step is not started with less time than this (or after Ctrl-C).
MIN_STEP_SECONDS = 0.05
# A round faster than this doubles the rows the next one adds.
FAST_ROUND_SECONDS = 2.0
# Rows of the first subset: the incumbent's wrong rows, each with this many nearest rows of
# another label (the rows that make them hard).
NEIGHBOURS = 2
# Largest certificate subset a checker accepts (a subset this big would not be re-proven).
MAX_CERTIFICATE_ROWS = 100_000
# Most disjoint subsets (blocks) a version-2 certificate may hold.
MAX_CERTIFICATE_SUBSETS = 10_000
# Disjoint blocks (where the enumeration applies): the share of the proof's time they get
# first, and the distinct rows of the first partition's blocks (doubled while a partition takes
# under a third of what is left). uniform-10 #0, 2 units: blocks of 40 rows sum to 20 in 19 s,
# of 80 rows to 27 in 241 s, where row generation reached 8; in --prove's 600 s the bound was 21
# with 30 % of the proof's time, 26 with 60 % (the whole-set CP-SAT question that gets the
# rest stayed open either way; docs/benchmarks.md §10).
PARTITION_SHARE = 0.6
PARTITION_ROWS = 40
# The core (where the enumeration applies but not to every row): the share of the proof's time
# its scan may take. uniform-10 #0, 2 units: the incumbent's wrong rows all lie in the noisy
# centre (levels 7 and 8 of every input), whose 149 distinct rows have 285,832 distinct
# halfspace sets; their scan proves the optimum 47 there in about 160 s (docs/benchmarks.md §10).
CORE_SHARE = 0.8


@dataclass
class SubsetProof:
    """One solved subset: its distinct rows, what CP-SAT proved, and the bound it gives."""

    rows: list[int]  # indices into the problem's distinct rows
    status: str
    subset_bound: int  # proven lower bound of the loss on the subset
    rest_bound: int  # data bound of the distinct rows outside the subset
    seconds: float
    network: Network | None = None  # the subset's best network (when found)
    method: str = "cpsat"  # how the subset's bound was proven (``refute_method``)

    @property
    def bound(self) -> int:
        return self.subset_bound + self.rest_bound


@dataclass
class BlocksProof:
    """Disjoint subsets (blocks) of the distinct rows, each with a proven bound: the optima of
    disjoint blocks add up, and the rows outside every block add their data bound."""

    blocks: list[SubsetProof]
    rest_bound: int
    seconds: float
    status: str = "BLOCKS"
    method: str = "enumeration"

    @property
    def rows(self) -> list[int]:
        return [r for b in self.blocks for r in b.rows]

    @property
    def subset_bound(self) -> int:
        return sum(b.subset_bound for b in self.blocks)

    @property
    def bound(self) -> int:
        return self.subset_bound + self.rest_bound


@dataclass
class ProofResult:
    """What ``prove_bound`` found: the best bound, its proof, every round, the best network."""

    bound: int
    best: SubsetProof | BlocksProof | None
    rounds: list[dict] = field(default_factory=list)
    network: Network | None = None  # the best network seen (the incumbent or a subset's)
    loss: int | None = None  # its training loss


def row_bounds(rows: UniqueRows, objective: Objective, arch: Architecture) -> np.ndarray:
    """The data bound of every distinct row on its own (they add up to the data bound)."""
    return np.array([objective.lower_bound(rows.counts[r:r + 1], arch.output)
                     for r in range(rows.n_rows)], dtype=np.int64)


def subset_rows(rows: UniqueRows, idx: list[int] | np.ndarray) -> UniqueRows:
    """The distinct rows ``idx`` (with all their label counts) as a training set of their own."""
    idx = np.asarray(idx, dtype=np.int64)
    return UniqueRows(rows.Q[idx], rows.counts[idx], np.arange(len(idx), dtype=np.int64))


def _row_losses(net: Network, rows: UniqueRows, objective: Objective) -> np.ndarray:
    """Loss of ``net`` on every distinct row (all its labels counted)."""
    scores = net.forward_q(rows.Q).scores
    out = np.zeros(rows.n_rows, dtype=np.int64)
    for k in range(rows.counts.shape[1]):
        y = np.full(rows.n_rows, k, dtype=np.int64)
        out += rows.counts[:, k] * objective.row_losses(scores, y, net.output)
    return out


#: Symmetry breaking keeps every optimum (tests/test_prove.py, by brute force) but made the one
#: proof measured slower (iris training half, 3 units: 27.7 s with, 18.9 s without;
#: benchmarks/results/prove2.md), so the proofs run without it; ``symmetry_breaking=True`` asks.
PROVE_SYMMETRY_BREAKING = False


#: The complete searches a refutation runs with several workers, in this order: one without
#: and one with the strongest LP relaxation, sharing what each learns. Iris's "loss <= 0" (130
#: rows, 3 units in [-3, 3]): no_lp + max_lp 26-33 s (3 seeds), default_lp + no_lp (CP-SAT's
#: first two) 70-94 s, default_lp + max_lp 35 s, max_lp alone over 150 s, one default worker
#: 47-128 s or over 150 s (docs/benchmarks.md §10).
REFUTE_SUBSOLVERS = ("no_lp", "max_lp", "default_lp", "quick_restart", "quick_restart_no_lp",
                     "reduced_costs", "pseudo_costs", "core", "lb_tree_search", "probing")


@dataclass
class Answer:
    """A refutation's answer to "is there a network with a loss below ``below`` on these
    rows?": ``status`` "INFEASIBLE" (a proof that none is), "FEASIBLE" (one is: ``loss``, and
    ``network()`` builds it) or "UNKNOWN" (time ran out). ``minimum``: the feasible loss is also
    proven to be the smallest on the rows (the enumeration scans every network). ``method``:
    "cpsat" or "enumeration"."""

    status: str
    method: str
    loss: int | None = None
    minimum: bool = False
    seconds: float = 0.0
    _make: Callable[[Quantizer, list], Network] | None = None

    def network(self, quantizer: Quantizer, classes: list) -> Network:
        """The feasible answer's network, with ``quantizer`` and ``classes``."""
        if self._make is None:
            raise RuntimeError("internal error: no network in a non-feasible answer")
        return self._make(quantizer, classes)


#: How a refutation is answered: "auto" enumerates every network when ``halfspaces`` applies
#: (one hidden layer of at most 2 units, two classes, the error count; bcw's 2-unit question
#: in 3.4 s where CP-SAT stayed open for ten minutes) and asks CP-SAT otherwise.
REFUTE_METHODS = ("auto", "cpsat", "enumeration")


def refute_method(arch: Architecture, objective: Objective, method: str = "auto") -> str:
    """The method ``refute`` uses for ``arch``/``objective``: "cpsat" or "enumeration"."""
    if method not in REFUTE_METHODS:
        raise ValueError(f"unknown refutation method {method!r}")
    if method == "cpsat":
        return "cpsat"
    reason = halfspaces.unsupported(arch, objective)
    if method == "enumeration" and reason is not None:
        raise BDNNError(f"the enumeration does not apply: {reason}")
    return "enumeration" if reason is None else "cpsat"


def refute(arch: Architecture, rows: UniqueRows, objective: Objective, solve: SolveOptions,
           time_limit: float, below: int, *, hint: Network | None = None,
           symmetry_breaking: bool = PROVE_SYMMETRY_BREAKING, method: str = "auto") -> Answer:
    """Ask whether some network has a loss below ``below`` on ``rows`` (see ``Answer``).

    With the enumeration (``refute_method``) every network is scanned and a feasible answer is
    the minimum. With CP-SAT the loss is a hard constraint and there is no objective: CP-SAT
    proves such a question infeasible far sooner than it closes the same bound while minimising
    (iris, all 130 distinct rows, 3 units in [-3, 3], loss <= 0: infeasible in 47 s on one
    worker; minimising left the bound at 0 after 120 s).
    """
    t0 = time.monotonic()
    if refute_method(arch, objective, method) == "enumeration":
        # "auto" gives the question to CP-SAT when the scan would not finish in time
        answer = _enumerated(arch, rows, objective, solve, time_limit, below,
                             give_up=method == "auto")
        if answer is not None:
            return answer
        if solve.progress:
            progress_line(solve.label, t0, "enumeration: the candidate halfspaces would not "
                          "be paired in time; asking CP-SAT")
        time_limit -= time.monotonic() - t0
        if _out_of_time(time_limit):
            return Answer("UNKNOWN", "cpsat", seconds=time.monotonic() - t0)
    options = ModelOptions(objective=objective, symmetry_breaking=symmetry_breaking)
    builder = BDNNCpModel(arch, rows, options)
    builder.model.Add(builder.loss_expression() <= int(below) - 1)
    if solve.workers > 1:
        # every worker on a complete search: CP-SAT's default portfolio adds first-solution and
        # neighbourhood workers, which never prove infeasibility; and of the complete searches,
        # REFUTE_SUBSOLVERS first (see there).
        w = int(solve.workers)
        chosen = {"subsolvers": list(REFUTE_SUBSOLVERS[:w])} if w <= len(REFUTE_SUBSOLVERS) else {}
        solve = dataclasses.replace(solve, extra_parameters={
            "num_full_subsolvers": w, **chosen, **solve.extra_parameters})
    builder.model.ClearObjective()
    if hint is not None:
        builder.add_hints(hint)
    solver, status, _ = solve_model(builder.model, solve, time_limit, solve.label)
    name = status_name(status)
    seconds = time.monotonic() - t0
    if found_solution(status):
        return Answer("FEASIBLE", "cpsat", _found_loss(solver, builder), False, seconds,
                      lambda quantizer, classes: builder.network_from(solver, quantizer,
                                                                      classes))
    if name == "MODEL_INVALID":
        raise RuntimeError("internal error: CP-SAT rejected a refutation model")
    return Answer("INFEASIBLE" if name == "INFEASIBLE" else "UNKNOWN", "cpsat", seconds=seconds)


def _enumerated(arch: Architecture, rows: UniqueRows, objective: Objective, solve: SolveOptions,
                time_limit: float, below: int, *, give_up: bool) -> Answer | None:
    """``refute``'s question answered by the enumeration (its feasible answer is the minimum);
    None when, with ``give_up``, the scan would not finish in time."""
    t0 = time.monotonic()
    say = None if not solve.progress else (lambda m: progress_line(solve.label, t0, m))
    e = halfspaces.enumerate_best(arch, rows, objective, below, t0 + time_limit,
                                  progress=say, give_up=give_up)
    if e.hopeless:
        return None
    status = "FEASIBLE" if e.status in ("OPTIMAL", "FEASIBLE") else e.status

    def make(quantizer: Quantizer, classes: list, net: Network | None = e.network) -> Network:
        assert net is not None
        return dataclasses.replace(net, quantizer=quantizer, classes=list(classes), training={})

    return Answer(status, "enumeration", e.loss, e.status == "OPTIMAL",
                  time.monotonic() - t0, make if e.network is not None else None)


def _out_of_time(left: float) -> bool:
    """True when a proof step with ``left`` seconds should not start (or Ctrl-C was pressed)."""
    return left < MIN_STEP_SECONDS or interrupt_requested()


def _found_loss(solver: Any, builder: BDNNCpModel) -> int:
    """The loss of the network ``solver`` holds (the model's loss expression, evaluated)."""
    return int(sum(c * solver.Value(v) for c, v in builder.loss_terms) + builder.loss_constant)


def solve_subset(arch: Architecture, rows: UniqueRows, objective: Objective, solve: SolveOptions,
                 time_limit: float, *, hint: Network | None = None, at_least: int = 0,
                 symmetry_breaking: bool = PROVE_SYMMETRY_BREAKING, method: str = "auto"
                 ) -> tuple[str, int, int | None, Answer | None]:
    """The optimum of the loss on ``rows``, by raising a lower bound: ``at_least`` (a loss every
    network is known to reach on ``rows``), then one ``refute`` question per step ("is there a
    network with loss <= b?") until one is feasible (its network is then optimal) or the time
    runs out. Where the enumeration applies, one scan below a loss known to be reachable (the
    hint's) gives the optimum instead, and with ``method`` "auto" CP-SAT's questions follow only
    when the scan would not finish in time. Returns (status, proven bound, best loss or None,
    the last answer)."""
    deadline = time.monotonic() + time_limit
    b = max(int(at_least), 0)
    answer = None
    if refute_method(arch, objective, method) == "enumeration":
        # one scan finds the minimum (stepping b up would rescan for every value): asked below
        # a loss some network reaches on ``rows``, the hint's or the constant network's
        known = int(rows.counts.sum() - rows.counts.sum(axis=0).max())
        if hint is not None:
            known = min(known, int(_row_losses(hint, rows, objective).sum()))
        answer = _enumerated(arch, rows, objective, solve, time_limit, known + 1,
                             give_up=method == "auto")
        if answer is not None and answer.minimum and answer.loss is not None:
            if answer.loss < b:
                raise RuntimeError(f"internal error: a network with loss {answer.loss} < {b}")
            return "OPTIMAL", int(answer.loss), int(answer.loss), answer
        if answer is not None or method != "auto":  # out of time
            return "UNKNOWN", b, None, answer
        method = "cpsat"  # the scan would not finish: CP-SAT's questions, one by one
    while True:
        left = deadline - time.monotonic()
        if _out_of_time(left):
            return "UNKNOWN", b, None, answer
        answer = refute(arch, rows, objective, solve, left, b + 1, hint=hint,
                        symmetry_breaking=symmetry_breaking, method=method)
        if answer.status == "FEASIBLE":
            value = int(answer.loss)
            if value < b:  # ``at_least`` was not a lower bound: a caller's bug
                raise RuntimeError(f"internal error: a network with loss {value} < {b}")
            return "OPTIMAL", value, value, answer
        if answer.status == "UNKNOWN":
            return "UNKNOWN", b, None, answer
        b += 1


def _first_subset(rows: UniqueRows, wrong: np.ndarray, majority: np.ndarray) -> list[int]:
    """The incumbent's wrong rows, each with its nearest rows (L1) of another majority label,
    until ``FIRST_SUBSET_ROWS`` are in (row generation adds the others when they matter)."""
    chosen: list[int] = []
    for r in np.flatnonzero(wrong):
        if len(set(chosen)) >= FIRST_SUBSET_ROWS:
            break
        chosen.append(int(r))
        d = np.abs(rows.Q - rows.Q[r]).sum(axis=1)
        other = np.flatnonzero(majority != majority[r])
        for o in other[np.argsort(d[other], kind="stable")][:NEIGHBOURS]:
            chosen.append(int(o))
    return sorted(set(chosen))


def core_rows(rows: UniqueRows, wrong: np.ndarray) -> np.ndarray | None:
    """The distinct rows inside the bounding box of the rows an incumbent gets ``wrong``
    (per input, their lowest to highest level): where the errors are, and on data whose
    errors come from one region (noise in a box), a subset whose inputs take few levels, so
    that the enumeration's candidate sets stay few. None when the box holds every row, or
    rows of one label only."""
    if not wrong.any():
        return None
    lo, hi = rows.Q[wrong].min(axis=0), rows.Q[wrong].max(axis=0)
    S = np.flatnonzero(np.all((rows.Q >= lo) & (rows.Q <= hi), axis=1))
    if len(S) == rows.n_rows or (rows.counts[S].sum(axis=0) > 0).sum() < 2:
        return None
    return S


def core_bound(problem: TrainProblem, incumbent: Network, deadline: float) -> SubsetProof | None:
    """The optimum on ``core_rows`` by one enumeration scan (given up at once when it would
    not end by ``deadline``), plus the data bound of the other rows; None when there is no
    core or its scan does not finish."""
    arch, objective, rows = problem.arch, problem.objective, problem.rows
    per_row = row_bounds(rows, objective, arch)
    losses = _row_losses(incumbent, rows, objective)
    S = core_rows(rows, losses > per_row)
    left = deadline - time.monotonic()
    if S is None or _out_of_time(left):
        return None
    sub = subset_rows(rows, S)
    t0 = time.monotonic()
    problem.say(f"prove: the core, {len(S)} distinct rows in the box of the incumbent's wrong "
                f"rows, by enumeration ({left:.0f} s at most)")
    solve = dataclasses.replace(problem.solve, label=f"{problem.solve.label}/core")
    answer = _enumerated(arch, sub, objective, solve, left, int(losses[S].sum()) + 1,
                         give_up=True)
    seconds = time.monotonic() - t0
    if answer is None or not answer.minimum or answer.loss is None:
        problem.say(f"prove: the core's scan would not end in time ({seconds:.0f} s)"
                    if answer is None else "prove: the core's scan ran out of time")
        return None
    in_S = np.zeros(rows.n_rows, dtype=bool)
    in_S[S] = True
    proof = SubsetProof(rows=[int(r) for r in S], status="OPTIMAL",
                        subset_bound=int(answer.loss), rest_bound=int(per_row[~in_S].sum()),
                        seconds=seconds, method="enumeration",
                        network=answer.network(problem.quantizer, problem.classes))
    problem.say(f"prove: the core's optimum {proof.subset_bound} ({seconds:.0f} s), bound "
                f"{proof.bound}")
    return proof


def nearest_blocks(Q: np.ndarray, size: int) -> np.ndarray:
    """A partition of the distinct rows ``Q`` into blocks of ``size`` nearest rows (L1, greedy
    from the first unassigned row): the block index of every row."""
    label = -np.ones(len(Q), dtype=np.int64)
    Qf = np.asarray(Q, dtype=float)
    block = 0
    for r in range(len(Q)):
        if label[r] >= 0:
            continue
        free = np.flatnonzero(label < 0)
        d = np.abs(Qf[free] - Qf[r]).sum(axis=1)
        label[free[np.argsort(d, kind="stable")[:size]]] = block
        block += 1
    return label


def partition_bound(problem: TrainProblem, deadline: float, *, method: str = "auto",
                    sizes: list[int] | None = None,
                    core: SubsetProof | None = None) -> BlocksProof | None:
    """Disjoint blocks of nearest distinct rows, each solved as far as its share of the time
    goes (``solve_subset``: a proven partial bound counts too); the best partition's blocks
    that prove more than their data bound, or None when none does. Starts with
    ``PARTITION_ROWS`` rows per block and doubles it while a partition takes under a third of
    the time left (``sizes``: those block sizes instead, in that order). With ``core`` (a
    proven subset) only the other rows are partitioned, and the core is one of the blocks."""
    arch, objective, rows = problem.arch, problem.objective, problem.rows
    per_row = row_bounds(rows, objective, arch)
    solve = dataclasses.replace(problem.solve, label=f"{problem.solve.label}/blocks",
                                progress=False)
    best: BlocksProof | None = None
    todo = list(sizes) if sizes is not None else None
    size = todo.pop(0) if todo else PARTITION_ROWS
    free = np.ones(rows.n_rows, dtype=bool)
    if core is not None:
        free[core.rows] = False
    others = np.flatnonzero(free)
    while size < 2 * len(others):
        t0 = time.monotonic()
        label = nearest_blocks(rows.Q[others], size)
        blocks = [others[label == b] for b in range(int(label.max()) + 1)]
        mixed = [S for S in blocks if (rows.counts[S].sum(axis=0) > 0).sum() >= 2]
        proofs: list[SubsetProof] = [] if core is None else [core]
        for i, S in enumerate(mixed):
            left = deadline - time.monotonic()
            if _out_of_time(left):
                break
            t1 = time.monotonic()
            status, sb, _, answer = solve_subset(arch, subset_rows(rows, S), objective, solve,
                                                 left / (len(mixed) - i),
                                                 at_least=int(per_row[S].sum()), method=method)
            if sb > per_row[S].sum():
                proofs.append(SubsetProof(rows=[int(r) for r in S], status=status,
                                          subset_bound=sb, rest_bound=0,
                                          seconds=time.monotonic() - t1,
                                          method=answer.method if answer else "cpsat"))
        in_blocks = np.zeros(rows.n_rows, dtype=bool)
        for b in proofs:
            in_blocks[b.rows] = True
        proof = BlocksProof(proofs, int(per_row[~in_blocks].sum()), time.monotonic() - t0)
        problem.say(f"prove: {len(mixed)} blocks of {size} distinct rows"
                    + (" besides the core" if core is not None else "")
                    + f": bound {proof.bound} ({proof.seconds:.0f} s)")
        if len(proofs) > (core is not None) and (best is None or proof.bound > best.bound):
            best = proof
        if _out_of_time(deadline - time.monotonic()):
            break
        if todo is not None:
            if not todo:
                break
            size = todo.pop(0)
        elif proof.seconds * 3 > deadline - time.monotonic():
            break
        else:
            size *= 2
    return best


def prove_bound(problem: TrainProblem, incumbent: Network | None, deadline: float, *,
                symmetry_breaking: bool = PROVE_SYMMETRY_BREAKING,
                method: str = "auto") -> ProofResult:
    """The whole-set question, then row generation until ``deadline`` (a ``time.monotonic()``
    value): the best proven bound ``opt(S) + data_bound(rest)`` over the subsets S solved, and
    the best network seen.

    Stops early when a subset's optimal network is as good on every row as on the subset (it is
    then optimal for the whole set) or when its bound meets the incumbent's loss.
    """
    arch, objective, rows = problem.arch, problem.objective, problem.rows
    per_row = row_bounds(rows, objective, arch)
    total_data = int(per_row.sum())
    result = ProofResult(bound=total_data, best=None, network=incumbent,
                         loss=None if incumbent is None else problem.loss(incumbent))
    if result.loss is not None and result.loss <= total_data:
        return result
    solve = dataclasses.replace(problem.solve, label=f"{problem.solve.label}/prove")
    if method != "cpsat" and halfspaces.unsupported(arch, objective) is None and (
            result.loss is None or not halfspaces.candidates_fit(arch, result.loss)):
        # the enumeration cannot scan every row: the core, then blocks small enough for it
        core = None if incumbent is None else core_bound(
            problem, incumbent, time.monotonic() + CORE_SHARE * (deadline - time.monotonic()))
        if core is not None:
            result.rounds.append({"rows": len(core.rows), "question": "core",
                                  "method": core.method, "status": core.status,
                                  "subset_bound": core.subset_bound, "bound": core.bound,
                                  "seconds": round(core.seconds, 3)})
            loss = None if core.network is None else problem.loss(core.network)
            if loss is not None and (result.loss is None or loss < result.loss):
                result.network, result.loss = core.network, loss
            if core.bound > result.bound:
                result.bound, result.best = core.bound, core
            else:
                core = None  # nothing beyond the data bound: its rows go to the blocks too
            if result.loss is not None and result.bound >= result.loss:
                return result
        share = time.monotonic() + PARTITION_SHARE * (deadline - time.monotonic())
        blocks = partition_bound(problem, share, method=method, core=core)
        if blocks is not None and blocks.bound > result.bound:
            result.bound, result.best = blocks.bound, blocks
            result.rounds.append({"rows": len(blocks.rows), "question": "disjoint blocks",
                                  "method": blocks.method, "status": "BLOCKS",
                                  "blocks": len(blocks.blocks), "bound": blocks.bound,
                                  "seconds": round(blocks.seconds, 3)})
        if result.loss is not None and result.bound >= result.loss:
            return result
    # First the question that settles optimality outright: "is there a network better than the
    # incumbent on every row?" With every row in, CP-SAT propagates the most; on iris it proves
    # infeasibility where half the rows stay open (docs/benchmarks.md §10).
    all_rows = list(range(rows.n_rows))
    while result.loss is not None and result.loss > total_data:
        left = (deadline - time.monotonic()) * WHOLE_SET_SHARE
        if _out_of_time(left):
            break
        problem.say(f"prove: is any network's loss below {result.loss} on all {rows.n_rows} "
                    f"distinct rows? ({left:.0f} s)")
        t0 = time.monotonic()
        answer = refute(arch, rows, objective, solve, left, result.loss,
                        symmetry_breaking=symmetry_breaking, method=method)
        seconds = time.monotonic() - t0
        result.rounds.append({"rows": rows.n_rows, "question": f"loss < {result.loss}",
                              "method": answer.method, "status": answer.status,
                              "seconds": round(seconds, 3)})
        problem.say(f"prove: {answer.status} after {seconds:.0f} s ({answer.method})"
                    + (f", loss {answer.loss}" if answer.loss is not None else ""))
        if answer.status == "UNKNOWN":
            break
        if answer.status == "FEASIBLE":
            net = answer.network(problem.quantizer, problem.classes)
            result.network, result.loss = net, problem.loss(net)
            incumbent = net
        # infeasible, or the enumeration's feasible answer (it scanned every network): optimal
        if answer.status == "INFEASIBLE" or answer.minimum:
            result.bound = result.loss
            result.best = SubsetProof(rows=all_rows, status="OPTIMAL", subset_bound=result.loss,
                                      rest_bound=0, seconds=seconds, method=answer.method)
            return result
    if result.loss is not None and result.loss <= total_data:
        return result
    majority = rows.counts.argmax(axis=1)
    if incumbent is not None:
        wrong = _row_losses(incumbent, rows, objective) > per_row
        S = _first_subset(rows, wrong, majority)
    else:
        S = []
    if not S:  # no incumbent: start from one row of each label
        S = sorted({int(np.flatnonzero(majority == k)[0]) for k in np.unique(majority)})
    in_S = np.zeros(rows.n_rows, dtype=bool)
    per_round = ROWS_PER_ROUND
    hint = result.network
    known = 0  # a proven lower bound of the loss on S
    while True:
        left = deadline - time.monotonic()
        if _out_of_time(left):
            break
        in_S[:] = False
        in_S[S] = True
        problem.say(f"prove: subset of {len(S)} distinct rows ({left:.0f} s left)")
        sub = subset_rows(rows, S)
        t0 = time.monotonic()
        # S only grows, so the last subset's optimum (and S's own data bound) bound this one
        status, sb, value, answer = solve_subset(
            arch, sub, objective, solve, left, hint=hint,
            at_least=max(known, int(per_row[S].sum())), symmetry_breaking=symmetry_breaking,
            method=method)
        known = sb
        used = answer.method if answer is not None else refute_method(arch, objective, method)
        proof = SubsetProof(rows=list(S), status=status, subset_bound=sb,
                            rest_bound=int(per_row[~in_S].sum()),
                            seconds=time.monotonic() - t0, method=used)
        row_record = {"rows": len(S), "method": used, "status": status, "subset_bound": sb,
                      "bound": proof.bound, "seconds": round(proof.seconds, 3)}
        if value is not None:
            net = answer.network(problem.quantizer, problem.classes)
            proof.network = net
            loss = problem.loss(net)
            row_record["network_loss"] = loss
            if result.loss is None or loss < result.loss:
                result.network, result.loss = net, loss
        result.rounds.append(row_record)
        if proof.bound > result.bound or (proof.bound == result.bound and result.best is None):
            result.bound, result.best = proof.bound, proof
        problem.say(f"prove: subset optimum {sb} ({status}), bound {result.bound}"
                    + (f", best loss {result.loss}" if result.loss is not None else ""))
        if result.loss is not None and result.bound >= result.loss:
            break  # proven optimal
        if status != "OPTIMAL" or proof.network is None:
            break  # out of time on this subset: a bigger one would not be solved either
        losses = _row_losses(proof.network, rows, objective)
        new = np.flatnonzero((losses > per_row) & ~in_S)
        if len(new) == 0:
            break  # cannot happen unless optimal (then the check above stopped); be safe
        # most costly rows first (merged rows count as many times as they occur)
        new = new[np.argsort(-(losses[new] - per_row[new]), kind="stable")][:per_round]
        # quick rounds learn little: take more rows at once until a solve takes a while
        per_round = per_round * 2 if proof.seconds < FAST_ROUND_SECONDS else ROWS_PER_ROUND
        hint = proof.network  # right on all of S: only the new rows are left to fit
        S = sorted(set(S) | {int(r) for r in new})
    result.bound = min(result.bound, result.loss) if result.loss is not None else result.bound
    return result


# Share of the time limit the search for a network (``train_exact``) gets before the proof.
PROVE_SEARCH_SHARE = 0.1


def train_prove(problem: TrainProblem, **exact_kw) -> TrainResult:
    """``--prove``: find a network with ``train_exact`` in ``PROVE_SEARCH_SHARE`` of the time
    limit, then spend the rest on ``prove_bound``; the result's bound is the best proven one
    and its record carries the proof's certificate (``record["certificate"]``, without the
    ``data`` description, which the caller adds)."""
    from ..model_file import network_to_dict
    from .exact import train_exact

    if problem.robust:
        raise BDNNError("--prove does not support robust training")
    solve = problem.solve
    search = problem.replace(solve=dataclasses.replace(
        solve, time_limit=PROVE_SEARCH_SHARE * solve.time_limit))
    first = train_exact(search, **exact_kw)
    record = {k: v for k, v in first.network.training.items()
              if k not in ("status", "objective", "bound", "gap", "seconds", "train_errors",
                           "train_accuracy", "nonzero_weights", "origin")}
    record["method"] = "exact"
    record["prove"] = True
    record["time_limit"] = float(solve.time_limit)
    net, loss, origin = first.network, first.objective, first.origin
    rows = problem.rows
    # the search's own bound: a proof on the whole set (subset = every distinct row)
    enumerated = first.network.training.get("enumeration", {}).get("status") in (
        "OPTIMAL", "INFEASIBLE")  # the search's enumeration proved its optimum
    whole = SubsetProof(rows=list(range(rows.n_rows)), status=first.status,
                        subset_bound=int(np.ceil(first.bound - 1e-6)), rest_bound=0,
                        seconds=first.seconds, method="enumeration" if enumerated else "cpsat")
    data_bound = problem.lower_bound()
    if first.status != "OPTIMAL" and whole.bound <= data_bound:  # nothing beyond the data's
        whole = SubsetProof(rows=[], status="EMPTY", subset_bound=0, rest_bound=data_bound,
                            seconds=0.0)
    best, bound = whole, whole.bound
    rounds: list[dict] = []
    if first.status != "OPTIMAL" and not first.interrupted and not interrupt_requested():
        wall = not solve.deterministic
        deadline = problem.at(1.0) if wall else time.monotonic() + (
            (1 - PROVE_SEARCH_SHARE) * solve.time_limit)
        proof = prove_bound(problem, net, deadline)
        rounds = proof.rounds
        if proof.best is not None and proof.best.bound > bound:
            best, bound = proof.best, proof.best.bound
        if proof.loss is not None and proof.loss < loss:
            net, loss = proof.network, proof.loss
            origin = "CP-SAT on a subset of the rows (--prove)"
            record.pop("result_is_start", None)
    bound = min(bound, loss)
    status = "OPTIMAL" if loss <= bound else "FEASIBLE"
    record["proof"] = {"rounds": rounds, "search_bound": whole.bound,
                       "subset_rows": len(best.rows), "subset_bound": best.subset_bound,
                       "rest_bound": best.rest_bound}
    record["certificate"] = make_certificate(problem, best, data={},
                                             quantizer=network_to_dict(net)["quantizer"])
    return problem.result(net, record, status=status, objective=loss, bound=float(bound),
                          seconds=problem.elapsed(), stages=list(first.stages), origin=origin,
                          interrupted=first.interrupted or interrupt_requested())


# -- certificates ---------------------------------------------------------------------------

def make_certificate(problem: TrainProblem, proof: SubsetProof | BlocksProof, *, data: dict,
                     quantizer: dict) -> dict:
    """The certificate of ``proof``: everything needed to re-prove it (see module docstring);
    version 1 for one subset, version 2 (``subsets``) for disjoint blocks.

    ``data`` says how the training rows were read (name, split, seed, ...), ``quantizer`` how
    they were quantized (the model file's ``quantizer`` object)."""
    rows = problem.rows
    arch = problem.arch

    def subset(p: SubsetProof) -> dict:
        idx = np.asarray(p.rows, dtype=np.int64)
        return {"inputs": rows.Q[idx].astype(int).tolist(),
                "label_counts": rows.counts[idx].astype(int).tolist(),
                "bound": int(p.subset_bound), "status": p.status, "method": p.method,
                "seconds": round(p.seconds, 3)}

    blocks = isinstance(proof, BlocksProof)
    doc = {
        "format": CERTIFICATE_FORMAT,
        "version": 2 if blocks else CERTIFICATE_VERSION,
        "bound": int(proof.bound),
        "objective": problem.objective.name,
        "architecture": {
            "n_inputs": int(arch.n_inputs), "hidden": [int(h) for h in arch.hidden],
            "n_classes": int(arch.n_classes),
            "weight_bounds": [int(w) for w in arch.weight_bounds],
            "max_level": int(arch.max_level), "activation": arch.activation.name,
            "output": arch.output.name,
        },
        "data": {**data, "fingerprint": data_fingerprint(problem.Q, problem.y),
                 "n_train": problem.n_train, "n_unique_rows": rows.n_rows},
        "quantizer": quantizer,
    }
    if blocks:
        doc["subsets"] = [subset(b) for b in proof.blocks]
    else:
        doc["subset"] = subset(proof)
    doc.update({"rest": {"data_bound": int(proof.rest_bound)},
                "solver": f"ortools-cpsat {ORTOOLS_VERSION}",
                "symmetry_breaking": PROVE_SYMMETRY_BREAKING})
    return doc


class CertificateError(BDNNError):
    """A certificate file that is not a valid bdnn certificate."""


def _get(doc: dict, key: str, kind: type | tuple, where: str = "certificate") -> Any:
    v = doc.get(key)
    if kind is int and (isinstance(v, bool) or not isinstance(v, int)):
        raise CertificateError(f"{where}: \"{key}\" must be an integer")
    if not isinstance(v, kind):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise CertificateError(f"{where}: \"{key}\" must be a {name}")
    return v


def _int_matrix(v: Any, n_cols: int, lo: int, hi: int, what: str) -> np.ndarray:
    if not isinstance(v, list) or len(v) > MAX_CERTIFICATE_ROWS:
        raise CertificateError(f"certificate: {what} must be a list of at most "
                               f"{MAX_CERTIFICATE_ROWS} rows")
    for row in v:
        if (not isinstance(row, list) or len(row) != n_cols
                or not all(isinstance(x, int) and not isinstance(x, bool) and lo <= x <= hi
                           for x in row)):
            raise CertificateError(f"certificate: every row of {what} must be {n_cols} "
                                   f"integers in [{lo}, {hi}]")
    return np.array(v, dtype=np.int64).reshape(len(v), n_cols)


@dataclass
class ParsedCertificate:
    """A validated certificate."""

    doc: dict
    arch: Architecture
    objective: Objective
    rows: UniqueRows  # every subset's rows
    bound: int
    subset_bound: int  # the sum of the subsets' bounds
    rest_bound: int
    subsets: list[tuple[UniqueRows, int]]  # each subset's rows and bound (version 2: several)


def parse_certificate(doc: Any) -> ParsedCertificate:
    """Validate a certificate document; every problem is a one-line ``CertificateError``."""
    from .limits import MAX_WEIGHT_BOUND
    if not isinstance(doc, dict):
        raise CertificateError("certificate must be a JSON object")
    if doc.get("format") != CERTIFICATE_FORMAT:
        raise CertificateError(f"not a bdnn certificate (\"format\" is "
                               f"{str(doc.get('format'))[:40]!r}, expected "
                               f"\"{CERTIFICATE_FORMAT}\")")
    if doc.get("version") not in CERTIFICATE_VERSIONS:
        raise CertificateError(f"unsupported certificate version "
                               f"{str(doc.get('version'))[:20]!r}; this bdnn reads versions "
                               f"{', '.join(map(str, CERTIFICATE_VERSIONS))}")
    a = _get(doc, "architecture", dict)
    hidden = _get(a, "hidden", list, "architecture")
    wbs = _get(a, "weight_bounds", list, "architecture")
    n_inputs = _get(a, "n_inputs", int, "architecture")
    n_classes = _get(a, "n_classes", int, "architecture")
    max_level = _get(a, "max_level", int, "architecture")
    ints = [*hidden, *wbs]
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in ints) \
            or not hidden or len(hidden) > 8 or any(not 1 <= h <= 64 for h in hidden) \
            or any(not 1 <= w <= MAX_WEIGHT_BOUND for w in wbs):
        raise CertificateError("certificate: architecture needs 1..8 hidden widths in 1..64 "
                               f"and weight bounds in 1..{MAX_WEIGHT_BOUND}")
    if not 1 <= n_inputs <= 100_000 or not 2 <= n_classes <= 1000 \
            or not 1 <= max_level <= 255:
        raise CertificateError("certificate: n_inputs, n_classes or max_level out of range")
    try:
        arch = Architecture(n_inputs=n_inputs, hidden=tuple(hidden), n_classes=n_classes,
                            weight_bounds=tuple(wbs), max_level=max_level,
                            activation=_get(a, "activation", str, "architecture"),
                            output=_get(a, "output", str, "architecture"))
        objective = get_objective(_get(doc, "objective", str))
    except CertificateError:
        raise
    except BDNNError as e:
        raise CertificateError(f"certificate: {e}") from None
    if doc["version"] == 1:
        subsets = [_get(doc, "subset", dict)]
    else:
        subsets = _get(doc, "subsets", list)
        if not 1 <= len(subsets) <= MAX_CERTIFICATE_SUBSETS \
                or not all(isinstance(x, dict) for x in subsets):
            raise CertificateError(f"certificate: \"subsets\" must be a list of 1 to "
                                   f"{MAX_CERTIFICATE_SUBSETS:,} objects")
    parts: list[tuple[UniqueRows, int]] = []
    for s in subsets:
        Q = _int_matrix(s.get("inputs"), n_inputs, 0, max_level, "subset inputs")
        C = _int_matrix(s.get("label_counts"), n_classes, 0, 10**9, "subset label_counts")
        if len(Q) != len(C):
            raise CertificateError("certificate: subset inputs and label_counts differ in "
                                   "length")
        if len(Q) and (len(np.unique(Q, axis=0)) != len(Q) or (C.sum(axis=1) == 0).any()):
            raise CertificateError("certificate: subset rows must be distinct and each have a "
                                   "label")
        parts.append((UniqueRows(Q, C, np.arange(len(Q), dtype=np.int64)),
                      _get(s, "bound", int, "subset")))
    Q = np.concatenate([p.Q for p, _ in parts])
    C = np.concatenate([p.counts for p, _ in parts])
    if len(parts) > 1 and (len(np.unique(Q, axis=0)) != len(Q) or any(not len(p.Q)
                                                                      for p, _ in parts)):
        raise CertificateError("certificate: the subsets must be non-empty and share no row")
    try:  # the training limits apply to a certificate's subset too (absurd sizes)
        from .limits import check_problem_size
        bits = max(1, int(max_level).bit_length())
        check_problem_size(max(1, len(Q)), n_inputs, hidden, arch.n_outputs, list(wbs), bits)
    except BDNNError as e:
        raise CertificateError(f"certificate: {e}") from None
    rest = _get(doc, "rest", dict)
    bound = _get(doc, "bound", int)
    subset_bound = sum(b for _, b in parts)
    rest_bound = _get(rest, "data_bound", int, "rest")
    if min(bound, rest_bound, *(b for _, b in parts)) < 0 \
            or bound > subset_bound + rest_bound:
        raise CertificateError("certificate: the bound must be at most the subsets' bounds plus "
                               "the rest's data bound, all >= 0")
    _get(doc, "data", dict)
    return ParsedCertificate(doc, arch, objective,
                             UniqueRows(Q, C, np.arange(len(Q), dtype=np.int64)),
                             bound, subset_bound, rest_bound, parts)


@dataclass
class CheckResult:
    """The checker's verdict and what it recomputed."""

    verdict: str  # "verified", "refuted" or "unproven" (time ran out before the bound)
    claimed: int
    subset_claimed: int
    subset_proven: int | None
    subset_status: str | None
    rest_claimed: int
    rest_recomputed: int | None
    reasons: list[str]
    seconds: float

    def summary(self) -> dict:
        return dataclasses.asdict(self)


def check_certificate(cert: ParsedCertificate, *, Q: np.ndarray | None, y: np.ndarray | None,
                      time_limit: float, workers: int = 1,
                      model: Network | None = None, progress: bool = False) -> CheckResult:
    """Re-prove ``cert``: the data side against the training rows ``Q``/``y`` (class indices;
    quantized with the certificate's quantizer), then the subset's optimum with ``refute``
    (the enumeration where it applies, else CP-SAT).

    ``model`` (optional): a network whose training loss on the rows must not be below the
    bound. Refuted when anything recomputed is below the claim; unproven when the re-proof ran
    out of time above the proven bound but below the claimed one.
    """
    t0 = time.monotonic()
    reasons: list[str] = []
    refuted = False
    rest = None
    if Q is not None and y is not None:
        from .rows import unique_rows
        fp = data_fingerprint(Q, y)
        if fp != cert.doc["data"].get("fingerprint"):
            refuted = True
            reasons.append(f"the data's fingerprint {fp} differs from the certificate's "
                           f"{str(cert.doc['data'].get('fingerprint'))[:32]}")
        else:
            full = unique_rows(Q, y, cert.arch.n_classes)
            index = {tuple(r): i for i, r in enumerate(full.Q.tolist())}
            where = [index.get(tuple(r)) for r in cert.rows.Q.tolist()]
            if any(w is None for w in where):
                refuted = True
                reasons.append("a subset row is not among the training rows")
            elif not np.array_equal(full.counts[where], cert.rows.counts):
                refuted = True
                reasons.append("a subset row's label counts differ from the training rows'")
            else:
                per_row = row_bounds(full, cert.objective, cert.arch)
                mask = np.ones(full.n_rows, dtype=bool)
                mask[where] = False
                rest = int(per_row[mask].sum())
                if rest < cert.rest_bound:
                    refuted = True
                    reasons.append(f"the rest's data bound is {rest}, not "
                                   f"{cert.rest_bound}")
        if model is not None:
            loss = cert.objective.loss(model, Q, y)
            if loss < cert.bound:
                refuted = True
                reasons.append(f"the model's training loss {loss} is below the bound")
    status, proven = None, None
    if not refuted and len(cert.rows.Q) == 0:
        status, proven = "EMPTY", 0  # no subset: the bound is the data's alone
        if cert.subset_bound > 0:
            refuted = True
            reasons.append("an empty subset cannot have a bound above 0")
    elif not refuted:
        solve = SolveOptions(time_limit=time_limit, workers=workers, progress=progress,
                             label="certify")
        deadline = t0 + time_limit
        status, proven = "OPTIMAL", 0
        # the smallest subsets first: what they leave of their share goes to the larger ones
        todo = sorted(((k, rows_, b) for k, (rows_, b) in enumerate(cert.subsets) if b > 0),
                      key=lambda t: t[1].n_rows)
        for i, (k, sub, claimed) in enumerate(todo):
            # one question per subset: a network with a loss below its claim on it?
            left = max(deadline - time.monotonic(), 0.0) / (len(todo) - i)
            answer = refute(cert.arch, sub, cert.objective, solve, left, claimed)
            where = "the subset" if len(cert.subsets) == 1 else f"subset {k + 1}"
            if answer.status == "INFEASIBLE":
                proven += claimed
            elif answer.status == "FEASIBLE":
                status, proven = "FEASIBLE", proven + int(answer.loss)
                refuted = True
                reasons.append(f"a network has loss {answer.loss} on {where}, below the "
                               f"claimed {claimed}")
                break
            else:
                status = "UNKNOWN"
                reasons.append(f"{'CP-SAT' if answer.method == 'cpsat' else 'the enumeration'} "
                               f"did not settle {where}'s claimed bound {claimed} within "
                               f"{left:.0f} s; give a longer --time-limit")
                break
        if status != "OPTIMAL":
            proven = proven if status == "FEASIBLE" else None
    verdict = "refuted" if refuted else ("unproven" if reasons else "verified")
    return CheckResult(verdict, cert.bound, cert.subset_bound, proven, status, cert.rest_bound,
                       rest, reasons, round(time.monotonic() - t0, 3))


__all__ = ["prove_bound", "partition_bound", "nearest_blocks", "make_certificate",
           "parse_certificate", "check_certificate", "BlocksProof",
           "ProofResult", "SubsetProof", "CheckResult", "CertificateError", "refute",
           "refute_method", "solve_subset", "Answer"]
