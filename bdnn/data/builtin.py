"""Built-in data sets by name: scikit-learn's bundled sets and the paper's data.

The paper's files ship compressed in ``bdnn.data.files`` (see ATTRIBUTION.md there);
scikit-learn's sets come from scikit-learn itself (bundled with it, no download).
Names: ``iris``, ``wine``, ``breast-cancer``, ``digits``, ``bcw``, ``credit-card``,
``uniform-10[:K]``, ``uniform-100[:K]`` (instance K in 0..9, default 0) and
``uniform-gen:N:M[:SEED]`` (a new instance, N features, M points).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from ..errors import DataError
from .csv_reader import parse_csv_text
from .dataset import Dataset
from .uniform import make_uniform

UNIFORM_INSTANCES = 10
UNIFORM_GEN = "uniform-gen"


@dataclass(frozen=True)
class BuiltinInfo:
    """What ``bdnn datasets`` shows for one built-in set."""

    name: str
    rows: int
    features: int
    classes: int
    source: str
    description: str
    instances: int = 1  # > 1: pick one with ``name:K``


BCW_FEATURES = [
    "clump_thickness", "uniformity_of_cell_size", "uniformity_of_cell_shape",
    "marginal_adhesion", "single_epithelial_cell_size", "bare_nuclei", "bland_chromatin",
    "normal_nucleoli", "mitoses",
]  # fmt: skip
CREDIT_FEATURES = (
    ["LIMIT_BAL", "SEX", "EDUCATION", "MARRIAGE", "AGE", "PAY_0"]
    + [f"PAY_{k}" for k in range(2, 7)]
    + [f"BILL_AMT{k}" for k in range(1, 7)]
    + [f"PAY_AMT{k}" for k in range(1, 7)]
)

_INFO = [
    BuiltinInfo("iris", 150, 4, 3, "scikit-learn (Fisher 1936)", "iris flowers, 3 species"),
    BuiltinInfo("wine", 178, 13, 3, "scikit-learn (UCI Wine)", "wine cultivars, 3 classes"),
    BuiltinInfo(
        "breast-cancer",
        569,
        30,
        2,
        "scikit-learn (UCI Breast Cancer Wisconsin Diagnostic)",
        "malignant/benign from cell-nucleus measurements",
    ),
    BuiltinInfo("digits", 1797, 64, 10, "scikit-learn (UCI Optical Digits)", "8x8 digit images"),
    BuiltinInfo(
        "bcw",
        699,
        9,
        2,
        "UCI Breast Cancer Wisconsin (Original), W. H. Wolberg; CC BY 4.0",
        "paper data set; integer features 1-10; 0 benign (458) / 1 malignant (241)",
    ),
    BuiltinInfo(
        "credit-card",
        30000,
        23,
        2,
        "UCI Default of Credit Card Clients, I.-C. Yeh; CC BY 4.0",
        "paper data set; 0 no default (23,364) / 1 default (6,636)",
    ),
    BuiltinInfo(
        "uniform-10",
        1000,
        10,
        2,
        "Kurtz & Bah 2021 (Uniform_N10_m1000_K)",
        "paper's random instances K=0..9 (uniform-10:K)",
        UNIFORM_INSTANCES,
    ),
    BuiltinInfo(
        "uniform-100",
        200,
        100,
        2,
        "Kurtz & Bah 2021 (Uniform_N100_m200_K)",
        "paper's random instances K=0..9 (uniform-100:K)",
        UNIFORM_INSTANCES,
    ),
]
BUILTINS: dict[str, BuiltinInfo] = {i.name: i for i in _INFO}


def builtin_names() -> list[str]:
    """Names of the built-in data sets, in display order."""
    return list(BUILTINS)


def builtin_info(name: str) -> BuiltinInfo:
    """Description of one built-in set (rows, features, classes, source)."""
    try:
        return BUILTINS[_normalize(name).split(":")[0]]
    except KeyError:
        raise DataError(unknown_name_message(name)) from None


def is_builtin_name(spec: str) -> bool:
    """True when ``spec`` is meant as a built-in name (possibly with a bad suffix)."""
    base = _normalize(spec).split(":")[0]
    return base in BUILTINS or base == UNIFORM_GEN


def load_builtin(spec: str) -> Dataset:
    """Load a built-in set by name; every row in training (the loader applies the split)."""
    norm = _normalize(spec)
    base, _, suffix = norm.partition(":")
    if base == UNIFORM_GEN:
        return _uniform_gen(spec, suffix)
    if base not in BUILTINS:
        raise DataError(unknown_name_message(spec))
    info = BUILTINS[base]
    if info.instances > 1:
        return _uniform_instance(info, _instance(spec, suffix, info.instances))
    if suffix:
        raise DataError(f"data set {base!r} has no instances; use {base!r} without ':{suffix}'")
    return _LOADERS[base]()


# -- loaders ---------------------------------------------------------------------------------
def _sklearn(name: str, loader_name: str) -> Dataset:
    from sklearn import datasets  # imported lazily: it is slow to import

    bunch = getattr(datasets, loader_name)()
    classes = [c.item() if hasattr(c, "item") else c for c in bunch.target_names]
    classes = [int(c) if isinstance(c, int) else str(c) for c in classes]
    return Dataset(
        name=name,
        X=bunch.data,
        y=bunch.target,
        classes=classes,
        feature_names=[str(f) for f in bunch.feature_names],
        source=BUILTINS[name].source,
    )


def packaged_text(filename: str) -> str:
    """Decompressed text of a data file shipped in ``bdnn.data.files``."""
    path = resources.files("bdnn.data.files").joinpath(filename)
    return gzip.decompress(path.read_bytes()).decode("utf-8")


def _packaged(name: str, filename: str, feature_names: list[str] | None = None) -> Dataset:
    ds = parse_csv_text(
        packaged_text(filename), source=filename, name=name, delimiter=";", header=False
    )
    if feature_names is not None:
        ds.feature_names = list(feature_names)
    ds.source = BUILTINS[name.split(":")[0]].source
    return ds


def _uniform_instance(info: BuiltinInfo, k: int) -> Dataset:
    filename = f"Uniform_N{info.features}_m{info.rows}_{k}.csv.gz"
    return _packaged(f"{info.name}:{k}", filename)


def _instance(spec: str, suffix: str, count: int) -> int:
    if not suffix:
        return 0
    if suffix.isdigit() and int(suffix) < count:
        return int(suffix)
    raise DataError(
        f"bad instance in {spec!r}: give a number from 0 to {count - 1}, e.g. "
        f"{spec.split(':')[0]}:3"
    )


def _uniform_gen(spec: str, suffix: str) -> Dataset:
    parts = suffix.split(":") if suffix else []
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise DataError(
            f"bad generator spec {spec!r}; use {UNIFORM_GEN}:N:M[:SEED] with whole numbers, "
            f"e.g. {UNIFORM_GEN}:10:1000:0 (N features, M points)"
        )
    n, m, *seed = (int(p) for p in parts)
    return make_uniform(n, m, seed[0] if seed else 0)


_LOADERS: dict[str, Callable[[], Dataset]] = {
    "iris": lambda: _sklearn("iris", "load_iris"),
    "wine": lambda: _sklearn("wine", "load_wine"),
    "breast-cancer": lambda: _sklearn("breast-cancer", "load_breast_cancer"),
    "digits": lambda: _sklearn("digits", "load_digits"),
    "bcw": lambda: _packaged("bcw", "breast-cancer-wisconsin.csv.gz", BCW_FEATURES),
    "credit-card": lambda: _packaged(
        "credit-card", "default_of_credit_card_clients.csv.gz", CREDIT_FEATURES
    ),
}


def _normalize(spec: str) -> str:
    return spec.strip().lower().replace("_", "-")


def unknown_name_message(spec: str) -> str:
    return (
        f"unknown data set {spec!r}; built-in names are: {', '.join(builtin_names())} "
        f"(uniform-10:K, uniform-100:K, {UNIFORM_GEN}:N:M[:SEED]), or give a path to a CSV file"
    )
