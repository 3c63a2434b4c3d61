"""Upper limits on a training problem, checked before anything is built.

Without them ``--hidden 99999999999999999999999`` grew to tens of gigabytes and never returned.
:func:`check_problem_size` is the one place that estimates a problem's size and compares it
with the limits; the command line and ``BDNNClassifier`` both call it with plain numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import BDNNError

#: Integer weight variables of the whole network (CP-SAT builds one per weight); digits
#: 64-16-10 has 1,184, a 784-64-10 MNIST network 50,816.
MAX_WEIGHTS = 100_000
#: Training rows x units: every trainer keeps int64 pre-activations of this size (and copies);
#: credit-card (22,500 training rows) with 4,000 units ran for over ten minutes without a line.
MAX_ROW_UNITS = 10_000_000
#: Largest weight bound: weights stay int16 in every exported form.
MAX_WEIGHT_BOUND = 2**15 - 1
#: Largest |pre-activation| of any unit: the C accumulators are int32_t.
MAX_ACCUMULATOR = 2**31 - 1
MAX_INPUT_BITS = 8
#: Input features: each needs at least one weight (``--max-inputs`` takes values up to it).
MAX_INPUTS = MAX_WEIGHTS
MAX_WORKERS = 256
#: Seven days; longer budgets are almost always a typo (and overflow some timers).
MAX_TIME_LIMIT = 7 * 24 * 3600.0
#: CP-SAT takes a 32-bit signed random seed.
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class ProblemSize:
    """The estimate :func:`check_problem_size` compared with the limits."""

    weights: int  # integer weight variables
    row_units: int  # rows x (hidden + output units)
    accumulator: int  # largest |pre-activation| of any unit over every possible input


def _positive_int(value, what: str, upper: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            as_int = int(value)
        except (TypeError, ValueError, OverflowError):
            raise BDNNError(f"{what} must be an integer, got {value!r}") from None
        if as_int != value:
            raise BDNNError(f"{what} must be an integer, got {value!r}")
        value = as_int
    if value < 1:
        raise BDNNError(f"{what} must be >= 1, got {value}")
    if value > upper:
        raise BDNNError(f"{what} is {_num(value)}, above the limit {_num(upper)}; {hint}")
    return value


def _num(n: int) -> str:
    return f"{n:,}" if n < 10**15 else f"{float(n):.3g}"


def check_problem_size(
    n_rows: int,
    n_inputs: int,
    hidden: Sequence[int],
    n_outputs: int,
    weight_bound: int | Sequence[int] = 1,
    input_bits: int = 4,
    workers: int = 1,
    time_limit: float = 60.0,
) -> ProblemSize:
    """Estimate the size of training a network ``n_inputs-hidden-n_outputs`` on ``n_rows``
    rows and raise ``BDNNError`` (with the estimate and the limit) when it is too large.

    ``weight_bound`` is one bound for every layer or one per layer (output layer last). Also
    checks ``input_bits`` (1..8), ``workers`` and ``time_limit`` (seconds, finite, > 0).
    Returns the estimate.
    """
    n_rows = _positive_int(n_rows, "the number of training rows", 10**12, "use fewer rows")
    n_inputs = _positive_int(n_inputs, "the number of input features", MAX_WEIGHTS,
                             "select fewer features")
    n_outputs = _positive_int(n_outputs, "the number of output units", MAX_WEIGHTS,
                              "use fewer classes")
    if isinstance(hidden, (int, str)) or not len(hidden):
        raise BDNNError("hidden must list at least one layer width, e.g. (4,) or --hidden 4")
    widths = [_positive_int(h, "a hidden layer width", MAX_WEIGHTS,
                            "use narrower hidden layers") for h in hidden]
    if isinstance(weight_bound, (int, float, str)) or not hasattr(weight_bound, "__len__"):
        bounds = [weight_bound] * (len(widths) + 1)
    else:
        bounds = list(weight_bound)
        if len(bounds) != len(widths) + 1:
            raise BDNNError("give one weight bound per layer (hidden layers and output)")
    bounds = [_positive_int(w, "the weight bound", MAX_WEIGHT_BOUND,
                            "use a smaller --weight-bound") for w in bounds]
    input_bits = _positive_int(input_bits, "input bits", MAX_INPUT_BITS,
                               "use --input-bits 1..8")
    _positive_int(workers, "workers", MAX_WORKERS, "use at most one worker per core")
    try:
        t = float(time_limit)
    except (TypeError, ValueError, OverflowError):
        raise BDNNError(f"the time limit must be a number of seconds, got {time_limit!r}") from None
    if not math.isfinite(t) or t <= 0:
        raise BDNNError(f"the time limit must be a finite number of seconds > 0, got {t:g}")
    if t > MAX_TIME_LIMIT:
        raise BDNNError(f"the time limit is {t:g} s, above the limit {MAX_TIME_LIMIT:g} s "
                        "(7 days)")
    # Python integers throughout: nothing overflows however large the request.
    layer_widths = [n_inputs, *widths, n_outputs]
    weights = sum(a * b for a, b in zip(layer_widths, layer_widths[1:], strict=False))
    shape = "-".join(_num(w) for w in layer_widths)
    if weights > MAX_WEIGHTS:
        raise BDNNError(f"a {shape} network has {_num(weights)} weights, above the limit "
                        f"{_num(MAX_WEIGHTS)}; use fewer or narrower hidden layers")
    row_units = n_rows * (sum(widths) + n_outputs)
    if row_units > MAX_ROW_UNITS:
        raise BDNNError(f"{_num(n_rows)} rows x {_num(sum(widths) + n_outputs)} units = "
                        f"{_num(row_units)} activations, above the limit {_num(MAX_ROW_UNITS)}; "
                        "use fewer rows or units")
    largest_input = (1 << input_bits) - 1
    accumulator = 0
    for i, (n_in, w) in enumerate(zip(layer_widths, bounds, strict=False)):
        # |W h + b| <= 2 (w n_in max|h| + 1), as Network.preactivation_bound
        acc = 2 * (w * n_in * (largest_input if i == 0 else 1) + 1)
        accumulator = max(accumulator, acc)
    if accumulator > MAX_ACCUMULATOR:
        raise BDNNError(f"weight bound {max(bounds)} with {shape} units gives pre-activations "
                        f"up to {_num(accumulator)}, above the int32 limit "
                        f"{_num(MAX_ACCUMULATOR)}; use a smaller --weight-bound")
    return ProblemSize(weights, row_units, accumulator)
