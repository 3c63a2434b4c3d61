"""Shared helpers for the firmware tests: the toolchain gate and the test networks."""

from __future__ import annotations

import numpy as np
from toolchains import require_tool

from bdnn.network import Network, random_network
from codegen.targets.registry import Target, get_target, target_names
from codegen.targets.toolchain import package_of, programs_for

ALL_TARGETS = target_names()  # every registered target, so a new one is tested without edits


def need_target(name: str) -> Target:
    """The target, after skipping (or failing, with BDNN_REQUIRE_TOOLCHAINS=1) if a program it
    needs is missing."""
    return need_toolchain(get_target(name))


def need_toolchain(target: Target) -> Target:
    """``target`` (registered or not), after the same skip-or-fail check as ``need_target``."""
    for prog in programs_for(target):
        require_tool(prog, package_of(target, prog))
    return target


def sign_argmax_net() -> Network:
    """Sign activation, 2 hidden layers, mixed weight bounds, 3 classes."""
    return random_network(
        np.random.default_rng(11), 6, [9, 5], 3, weight_bound=[1, 3, 1], activation="sign"
    )


def heaviside_single_net() -> Network:
    """Heaviside, one hidden layer, a single output unit, 8-bit inputs."""
    return random_network(
        np.random.default_rng(12), 5, [7], 2, weight_bound=2, output="single", bits=8
    )


def predict_table_net(kind: str = "quantile") -> tuple[Network, np.ndarray]:
    """A network that reads 3 of its 5 inputs at 2 bits (its predict table: 64 entries of 2
    bits), with a quantizer of ``kind`` fitted on the float rows returned with it."""
    from bdnn.network import Layer
    from bdnn.quantizer import fit_quantizer

    rng = np.random.default_rng(13)
    X = np.column_stack([rng.normal(0, 3, 60), rng.uniform(-1, 1, 60), rng.integers(0, 9, 60),
                         rng.exponential(5, 60), rng.normal(5, 1, 60)]).astype(np.float32)
    layers = [Layer([[1, 0, -1, 0, 1], [-1, 0, 1, 0, 1], [0, 0, 1, 0, -1]], [-1, 0, 0], 1),
              Layer([[1, -1, 1], [-1, 1, 0], [0, -1, -1]], [-1, -1, 1], 1)]
    q = fit_quantizer(kind, X, None, 2)
    return Network(q, layers, classes=["a", "b", "c"]), X


def input_rows(net: Network, n: int, seed: int) -> np.ndarray:
    """All-zero and all-max rows plus ``n`` random ones."""
    L = net.quantizer.max_level
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, L + 1, size=(n, net.n_inputs))
    return np.vstack([np.zeros(net.n_inputs), np.full(net.n_inputs, L), rows]).astype(np.uint8)
