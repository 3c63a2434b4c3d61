"""``--method rounded``: a float MLP of the architecture, rounded to integer weights, kept as is.

The exact, local-search and split methods start from the same rounded MLP and then lower the
training loss; on wide networks that fit the training rows anyway, each move toward fewer
training errors moves away from the float solution, and test accuracy drops (digits 64-128-10:
the rounded network 0.962 on the test part, the same network after coordinate descent 0.942;
docs/benchmarks.md §13). This method stops at the rounding: one ``tanh`` MLP (L2 penalty
``--float-alpha``, seed ``--seed``) trained until it converges or the time limit, each layer
rounded as ``float_start.rounded_mlp_start`` does. It searches nothing, so its status is
``FEASIBLE`` unless the loss meets the data bound; ``bdnn select`` puts it beside the searching
methods and the validation part decides.
"""

from __future__ import annotations

import time

from ..errors import BDNNError
from .float_start import rounded_mlp_start
from .problem import TrainProblem
from .result import TrainResult

# epochs of the MLP: enough for adam to converge on the built-in sets (digits, 128 units:
# about 300); the time limit ends it earlier
MAX_EPOCHS = 2000


def check_float_mlp_method(problem: TrainProblem, method: str) -> None:
    """Refuse, as a one-line ``BDNNError``, what a method that starts from its own float MLP
    (rounded, qat) cannot keep: a robust radius, a warm start."""
    if problem.robust:
        raise BDNNError("--robust-radius needs a method that searches integer weights "
                        f"(exact, local-search or split), not {method}")
    if problem.warm_start is not None:
        raise BDNNError(f"--method {method} trains its own float MLP; a warm start "
                        "(--warm-start) needs exact, local-search or split")


def train_rounded(problem: TrainProblem) -> TrainResult:
    """The rounded float MLP of ``problem`` (see the module docstring)."""
    check_float_mlp_method(problem, "rounded")
    solve = problem.solve
    problem.say(f"float MLP, L2 penalty {problem.float_alpha:g}, rounded to integer weights")
    t0 = time.monotonic()
    net = rounded_mlp_start(problem.Q, problem.y, problem.arch, problem.quantizer,
                            problem.classes, seed=solve.seed, max_iter=MAX_EPOCHS,
                            deadline=None if solve.deterministic else problem.at(1.0),
                            alpha=problem.float_alpha)
    loss = problem.loss(net)
    lower = problem.lower_bound()
    record = {**problem.record("rounded", solver="scikit-learn MLPClassifier"),
              "float_alpha": problem.float_alpha, "max_epochs": MAX_EPOCHS,
              "fit_seconds": round(time.monotonic() - t0, 3)}
    return problem.result(net, record, status="OPTIMAL" if loss <= lower else "FEASIBLE",
                          objective=loss, bound=lower, seconds=problem.elapsed(),
                          stages=[{"stage": "rounded", "objective": loss,
                                   "seconds": record["fit_seconds"]}],
                          origin="the float MLP, rounded (no integer search)")
