"""One entry point over every training method (``--method``)."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np

from ..errors import BDNNError
from ..objective import Objective, lexicographic_objective
from .data_split import train_split
from .exact import train_exact
from .input_selection import train_reading_few
from .local_search import train_local_search
from .problem import TrainProblem
from .prove import train_prove
from .qat import train_qat
from .result import TrainResult
from .rounded import train_rounded
from .safe_solver import interrupt_requested, reset_interrupt

# rounded: the float start kept as rounded, no integer search (train_rounded); qat: the rounded
# network trained on as the integer network it is (train_qat); auto picks neither (they do not
# search integer weights), bdnn select's grid and the user do
METHODS = ("exact", "local-search", "split", "auto", "rounded", "qat")
# the methods that train their own float MLP: no warm start to hint them (bdnn select lends
# them only its quantizer), seconds rather than the time limit
FLOAT_MLP_METHODS = ("rounded", "qat")
# auto: exact while unique rows x hidden units stays below this, data-splitting above it. The
# exact trainer starts from a descended float start and returns at least that network, so it
# beats the splits well beyond the sizes it can prove (digits 64-8-10, 7,200: test accuracy
# 0.88 exact in 60 s). On credit-card (4 units, 60,000) both start from the same descended
# network: exact 0.816 in 60 s, split 0.821 in 540 s (seed 0); the split also selects on the
# validation part.
AUTO_EXACT_LIMIT = 200_000


def check_lexicographic(method: str, objective: Objective) -> None:
    """``--lexicographic``'s rules before any training, as one-line ``BDNNError``: method exact
    (or auto, whose choice ``train_network`` checks again) and an objective with a
    lexicographic form (``lexicographic_objective``)."""
    if method not in ("exact", "auto"):
        raise BDNNError(f"--lexicographic works with --method exact only, not {method}")
    lexicographic_objective(objective)


def check_max_inputs(max_inputs: int, *, prove: bool = False,
                     ensemble: str | None = None) -> None:
    """``--max-inputs``' rules before any training, as one-line ``BDNNError``: at least 1, not
    with ``--prove`` (its bound would hold only for the chosen inputs) nor ``--ensemble``
    (whose members share one quantizer)."""
    if isinstance(max_inputs, bool) or int(max_inputs) != max_inputs or max_inputs < 1:
        raise BDNNError(f"--max-inputs must be a whole number >= 1, got {max_inputs}")
    if prove:
        raise BDNNError("--prove and --max-inputs cannot be combined (the bound would hold for "
                        "the chosen inputs only); drop one")
    if ensemble:
        raise BDNNError("--max-inputs trains one network; leave out --ensemble or --max-inputs")


def auto_choice(Q: np.ndarray, hidden: tuple[int, ...]) -> str:
    """The method ``auto`` picks: exact for small problems, split for large ones."""
    n_unique = len(np.unique(np.asarray(Q), axis=0))
    return "exact" if n_unique * int(sum(hidden)) <= AUTO_EXACT_LIMIT else "split"


def train_network(
    method: str,
    problem: TrainProblem,
    *,
    sparsify: bool = False,
    splits: int | None = None,
    batch_size: int | None = None,
    paper: bool = False,
    restarts: int | None = None,
    prove: bool = False,
    lexicographic: bool = False,
    max_inputs: int | None = None,
) -> TrainResult:
    """Train ``problem`` with ``method``; ``splits``/``batch_size``/``paper`` tune ``split``,
    ``restarts`` ``local-search``, ``sparsify`` and ``lexicographic`` ``exact``; ``prove``
    (exact only) spends most of the time limit on the lower bound (``prove.train_prove``);
    ``max_inputs`` K trains a network that reads at most K inputs (``input_selection``)."""
    if method not in METHODS:
        raise BDNNError(f"unknown method {method!r}; use one of: {', '.join(METHODS)}")
    if max_inputs is not None:
        check_max_inputs(max_inputs, prove=prove)
        options = {"sparsify": sparsify, "splits": splits, "batch_size": batch_size,
                   "paper": paper, "restarts": restarts, "lexicographic": lexicographic}
        return train_reading_few(lambda sub: train_network(method, sub, **options), problem,
                                 max_inputs)
    reset_interrupt()
    chosen = method
    if method == "auto":
        chosen = auto_choice(problem.Q, problem.arch.hidden)
        if problem.solve.progress:
            print(f"[auto] chose method {chosen}", file=sys.stderr, flush=True)
    # progress lines and solver labels name the method that runs
    problem = problem.replace(solve=dataclasses.replace(problem.solve, label=chosen))
    if sparsify and chosen != "exact":
        raise BDNNError(f"--sparsify works with --method exact only (the method is {chosen})")
    if prove and chosen != "exact":
        raise BDNNError(f"--prove works with --method exact only (the method is {chosen})")
    if lexicographic and chosen != "exact":
        raise BDNNError(f"--lexicographic works with --method exact only (the method is "
                        f"{chosen})")
    if prove and lexicographic:
        raise BDNNError("--prove and --lexicographic cannot be combined; drop one")
    if prove:
        result = train_prove(problem, sparsify=sparsify)
    elif chosen == "exact":
        result = train_exact(problem, sparsify=sparsify, lexicographic=lexicographic)
    elif chosen == "local-search":
        result = train_local_search(problem, restarts=restarts)
    elif chosen == "rounded":
        result = train_rounded(problem)
    elif chosen == "qat":
        result = train_qat(problem)
    else:
        result = train_split(problem, splits=splits, batch_size=batch_size, paper=paper)
    result.network.training["interrupted"] = bool(interrupt_requested())
    result.interrupted = result.interrupted or interrupt_requested()
    if method == "auto":
        result.network.training["auto_choice"] = chosen
        result.network.training["method"] = "auto"
    return result
