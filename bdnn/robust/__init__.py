"""Robustness of trained BDNNs: input boxes, random and worst-case attacks (docs/design.md §4)."""

from .attacks import (
    WorstCaseResult,
    random_attack,
    random_attack_accuracy,
    random_sign_perturbation,
    worst_case_check,
)
from .box import (
    QuantizedBox,
    pattern_holds_on_box,
    quantized_box,
    radius_in_levels,
    random_corners_check,
    rows_with_stable_pattern,
)

__all__ = [
    "QuantizedBox",
    "WorstCaseResult",
    "pattern_holds_on_box",
    "quantized_box",
    "radius_in_levels",
    "random_attack",
    "random_attack_accuracy",
    "random_corners_check",
    "random_sign_perturbation",
    "rows_with_stable_pattern",
    "worst_case_check",
]
