"""The ``--report`` Markdown, the ``--plot`` PNG and the terminal summary of ``bdnn select``."""

from __future__ import annotations

import io

from codegen.switches import SMALL_CODE, SWITCHES, WEIGHTS_AS_CODE

from ..errors import BDNNError
from .grid import GRID_AXES, config_label


def _acc(v) -> str:
    return "–" if v is None else f"{v:.4f}"


def _measured(c: dict, key: str) -> str:
    m = c.get("measured") or {}
    if "error" in m:
        return "does not fit" if key == "flash_bytes" else "–"
    if key not in m:
        return "–"
    forms = [name for switch, name in ((WEIGHTS_AS_CODE, "weights as code"),
                                       (SMALL_CODE, "small code")) if m.get(switch.key)]
    return f"{m[key]:,}" + (f" ({', '.join(forms)})" if forms else "")


def markdown_report(out: dict, command: str) -> str:
    """Pareto front (validation/test accuracy vs model bytes, flash, per-inference count),
    the pick, the grid, the times."""
    ch = out["chosen"]
    b = out["budgets"]
    unit = next((c["measured"].get("unit") for c in out["pareto"]
                 if c.get("measured") and "unit" in c["measured"]), "instructions")
    scoring = (f"{out['cv']}-fold cross-validation of the non-test rows" if out["cv"]
               else "validation part of the paper split")
    lines = [
        f"# bdnn select: {out['data']}",
        "",
        f"- command: `{command}`",
        f"- scoring: {scoring} (split {out['split']}, seed {out['seed']}); the test part is "
        "never used for choosing",
        f"- trainings: {out['n_tasks']} ({len(out['candidates'])} candidates, "
        f"{out['repeats']} seed(s), time limit {out['time_limit']:g} s, "
        f"{out['workers_per_task']} CP-SAT worker(s) each)",
        "- budgets: " + ", ".join(f"{k} {v}" for k, v in b.items() if v is not None)
        if any(v is not None for v in b.values()) else "- budgets: none",
        f"- time: estimate {out['estimate_s']:.0f} s, elapsed {out['elapsed_s']:.0f} s ("
        + ", ".join(f"{k[:-2].replace('_', ' ')} {v:.0f} s" for k, v in out["timings"].items())
        + ")",
        "",
        "## Chosen",
        "",
        f"{ch['label']} (seed {ch['seed']}): validation {_acc(ch['val_accuracy'])}, "
        f"test {_acc(ch['test_accuracy'])}, model data {ch['model_bytes']} B"
        + (f", refit on train + validation (test before the refit "
           f"{_acc(ch['selected_test_accuracy'])})" if ch.get("refit") else ""),
        *(["", switches_note(ch)] if switches_note(ch) else []),
        "",
        "## Pareto front (validation accuracy vs model bytes)",
        "",
        f"| configuration | seed | val acc. | test acc. | model data B | flash B | RAM B | "
        f"{unit} / inference (max) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for c in out["pareto"]:
        lines.append(f"| {config_label(c['config'])} | {c['seed']} | {_acc(c['val_accuracy'])} | "
                     f"{_acc(c['test_accuracy'])} | {c['model_bytes']:,} | "
                     f"{_measured(c, 'flash_bytes')} | {_measured(c, 'ram_total_bytes')} | "
                     f"{_measured(c, 'per_inference_max')} |")
    lines += ["", "## Every candidate", "",
              "| " + " | ".join(GRID_AXES) + " | seed | val acc. | test acc. | train acc. | "
              "model data B | seconds | Pareto |",
              "|" + "---|" * (len(GRID_AXES) + 7)]
    for c in out["candidates"]:
        lines.append("| " + " | ".join("-" if c["config"][a] is None else str(c["config"][a])
                                       for a in GRID_AXES)
                     + f" | {c['seed']} | {_acc(c['val_accuracy'])} | {_acc(c['test_accuracy'])}"
                     f" | {_acc(c['train_accuracy'])} | {c['model_bytes']:,} | "
                     f"{c['seconds']:.1f} | {'yes' if c['pareto'] else ''} |")
    if out["failed"]:
        lines += ["", "## Refused configurations", ""]
        lines += [f"- {config_label(f['config'])}: {f['error']}" for f in out["failed"]]
    return "\n".join(lines) + "\n"


def check_matplotlib() -> None:
    """``--plot`` needs matplotlib: fail before the sweep, not after it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise BDNNError("--plot needs matplotlib, which is not installed; install it with "
                        "`pip install matplotlib` or `pip install bdnn[plot]` (or drop --plot)"
                        ) from None


def plot_png(out: dict) -> bytes:
    """Accuracy vs model bytes: every candidate (validation), the Pareto front (validation
    and test), the pick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    cs = out["candidates"]
    ax.scatter([c["model_bytes"] for c in cs], [c["val_accuracy"] for c in cs], s=14,
               color="0.7", label="candidate (validation)")
    front = out["pareto"]
    ax.plot([c["model_bytes"] for c in front], [c["val_accuracy"] for c in front], "o-",
            color="tab:blue", label="Pareto front (validation)")
    ax.plot([c["model_bytes"] for c in front], [c["test_accuracy"] for c in front], "s--",
            color="tab:orange", label="Pareto front (test)")
    ch = out["chosen"]
    ax.scatter([ch["model_bytes"]], [ch["test_accuracy"]], marker="*", s=200, color="tab:red",
               zorder=5, label="chosen (test)")
    if out["budgets"].get("max_model_bytes"):
        ax.axvline(out["budgets"]["max_model_bytes"], color="tab:red", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("model data bytes (weight planes + thresholds)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"bdnn select on {out['data']} (seed {out['seed']})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def switches_note(chosen: dict) -> str:
    """What a pick that meets the budgets only with C switches (small code, weights as code)
    asks of the user, or ``""``."""
    on = [s for s in SWITCHES if chosen.get(s.key)]
    if not on:
        return ""
    return (f"it meets the budgets only with {' and '.join(f'{s.macro} 1' for s in on)} "
            f"(measured so): export it with `bdnn export {' '.join(s.flag for s in on)}` (or "
            f"compile with {' '.join(f'-D{s.macro}=1' for s in on)})")


def text_summary(out: dict, model_path: str) -> str:
    """The terminal report."""
    ch = out["chosen"]
    lines = [
        f"chosen          {ch['label']} (seed {ch['seed']})",
        f"val accuracy    {_acc(ch['val_accuracy'])}"
        + (f" (mean of {out['cv']} folds)" if out["cv"] else ""),
        f"test accuracy   {_acc(ch['test_accuracy'])}"
        + (f" (before refit {_acc(ch['selected_test_accuracy'])})" if ch.get("refit") else ""),
        f"model data      {ch['model_bytes']} B",
    ]
    m = ch.get("measured")
    if m and "flash_bytes" in m:
        lines.append(f"on {m['target']:<12} flash {m['flash_bytes']} B, RAM {m['ram_total_bytes']}"
                     f" B, {m['per_inference_max']} {m['unit']} per inference (max)")
    if switches_note(ch):
        lines.append(f"C switches      {switches_note(ch)}")
    lines += [f"candidates      {len(out['candidates'])} ({len(out['pareto'])} on the Pareto "
              f"front, {len(out['failed'])} refused)",
              f"seconds         {out['elapsed_s']:.0f} (estimate {out['estimate_s']:.0f})",
              f"results         {out['results']}",
              f"model           {model_path}"]
    return "\n".join(lines)
