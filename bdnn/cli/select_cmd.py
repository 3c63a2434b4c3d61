"""``bdnn select``: train a grid of configurations on Dask, pick the most accurate model on
validation that meets the budgets (docs/select.md; docs/design.md §10)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from codegen.targets.registry import target_names

from ..errors import BDNNError
from ..train.limits import MAX_SEED, MAX_TIME_LIMIT, MAX_WORKERS
from .data_options import data_options, read_data
from .options import emit_json, process_started


@click.command("select")
@click.argument("data")
@click.option("--grid", "grid_path", type=click.Path(dir_okay=False), default=None,
              help="JSON grid: {\"hidden\": [4, \"8,4\"], \"input_bits\": [2, 4], ...} or a "
                   "list of such objects (default: one- and two-layer widths x uniform 4-bit, "
                   "quantile 2-bit and supervised 4-bit inputs, cut to the budget).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
              help="Seed of the split (as bdnn train --seed) and of the first solver run.")
@click.option("--repeats", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Solver seeds per configuration (seed, seed+1, ...).")
@click.option("--time-limit", type=click.FloatRange(0, MAX_TIME_LIMIT, min_open=True),
              default=10.0, show_default=True, help="Seconds per training.")
@click.option("--workers-per-task", type=click.IntRange(1, MAX_WORKERS), default=1,
              show_default=True, help="CP-SAT workers of each training.")
@click.option("--cv", type=click.IntRange(2, 100), default=None,
              help="Score by K folds of the non-test rows instead of the validation part "
                   "(the chosen configuration is then retrained on all non-test rows).")
@click.option("--refit", is_flag=True,
              help="Retrain the chosen configuration on train + validation, warm-started "
                   "from the chosen network.")
@click.option("--max-model-bytes", type=click.IntRange(min=1), default=None,
              help="Budget: bytes of model data (weight planes + thresholds of the C export).")
@click.option("--target", default=None,
              help=f"Measure the Pareto candidates on a microcontroller "
                   f"({', '.join(target_names())}).")
@click.option("--max-flash", type=click.IntRange(min=1), default=None,
              help="Budget (with --target): flash bytes of the minimal program.")
@click.option("--max-ram", type=click.IntRange(min=1), default=None,
              help="Budget (with --target): static RAM + stack bytes.")
@click.option("--max-cycles", type=click.IntRange(min=1), default=None,
              help="Budget (with --target): instructions (Cortex-M, RISC-V) or cycles (AVR) "
                   "per inference, worst of the measured inputs.")
@click.option("--entry", type=click.Choice(["predict_q", "predict"]), default="predict_q",
              show_default=True, help="What --target measures, as bdnn bench --entry.")
@click.option("--scheduler", default=None,
              help="Dask scheduler address (tcp://HOST:8786); default: a local cluster.")
@click.option("--processes", type=click.IntRange(1, 256), default=None,
              help="Worker processes of the local cluster (default: cores // "
                   "--workers-per-task).")
@click.option("--results", "results_path", type=click.Path(dir_okay=False), default=None,
              help="JSONL file the results are appended to as they arrive (default: next to "
                   "-o, OUT.results.jsonl; replaced unless it is the --resume file).")
@click.option("--resume", "resume_path", type=click.Path(dir_okay=False), default=None,
              help="Results file of an earlier sweep: its finished trainings are not run again.")
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the chosen model (JSON).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Write a Markdown report (Pareto front, grid, times).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Write a PNG of accuracy vs model bytes (needs matplotlib).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result on stdout.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
@data_options
def command(data, grid_path, seed, repeats, time_limit, workers_per_task, cv, refit,
            max_model_bytes, target, max_flash, max_ram, max_cycles, entry, scheduler, processes,
            results_path, resume_path, out_path, report_path, plot_path, as_json, quiet,
            label_column, delimiter, split, test_fraction) -> None:
    """Train a grid of configurations on DATA and keep the most accurate on validation that
    meets every budget."""
    started = process_started()  # the estimate and elapsed time cover the whole command
    from ..atomic_files import check_input_file, write_files
    from ..model_file import dumps_model
    from ..select.choose import Budgets
    from ..select.grid import default_grid, load_grid
    from ..select.report import check_matplotlib, markdown_report, plot_png, text_summary
    from ..select.sweep import SelectInterrupted, SelectOptions, run_select
    from .train_cmd import _check_writable

    budgets = Budgets(max_model_bytes, target, max_flash, max_ram, max_cycles)
    if budgets.needs_target() and target is None:
        raise BDNNError("--max-flash, --max-ram and --max-cycles need --target, e.g. "
                        "--target cortex-m0")
    if target is not None:
        from codegen.targets.registry import get_target
        from codegen.targets.toolchain import require_toolchain

        require_toolchain(get_target(target))  # unknown target or no compiler: fail now
    if plot_path:
        check_matplotlib()
    if scheduler is not None and processes is not None:
        raise BDNNError("--processes sizes the local cluster; with --scheduler the cluster's "
                        "workers decide")
    for path in (out_path, report_path, plot_path):
        if path:
            _check_writable(Path(path))
    if resume_path:
        check_input_file(resume_path, "--resume file")
    results = Path(results_path or resume_path or _default_results(out_path))
    if results.is_dir() or not results.exists():
        _check_writable(results)
    outputs = [Path(p).resolve() for p in (out_path, report_path, plot_path) if p]
    if results.resolve() in outputs or len(set(outputs)) < len(outputs):
        raise BDNNError("-o, --report, --plot and the results file must be different files")
    ds = read_data(data, label_column, delimiter, split, seed, test_fraction)
    if grid_path:
        configs = load_grid(grid_path)
    else:
        caps = [v for v in (max_model_bytes, max_flash) if v is not None]
        configs = default_grid(ds.n_features, ds.n_classes, len(ds.train),
                               min(caps) if caps else None, few_inputs=max_flash is not None)
    opts = SelectOptions(configs=configs, seed=seed, repeats=repeats, time_limit=time_limit,
                         workers_per_task=workers_per_task, cv=cv, refit=refit, budgets=budgets,
                         entry=entry, scheduler=scheduler, processes=processes,
                         results_path=results,
                         resume_path=Path(resume_path) if resume_path else None,
                         progress=not quiet)
    try:
        out = run_select(ds, opts, started)
    except SelectInterrupted as e:
        import signal

        from . import _received

        signum = _received["signal"] or signal.SIGINT  # SIGTERM takes the same path
        name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        click.echo(f"error: interrupted ({name}); {e.done} of {e.total} trainings finished and "
                   f"are kept in {e.path}; continue with --resume {e.path}", err=True)
        sys.exit(128 + int(signum))
    net = out.pop("network")
    files: dict = {Path(out_path): dumps_model(net)}
    command_line = "bdnn " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if report_path:
        files[Path(report_path)] = markdown_report(out, command_line)
    if plot_path:
        files[Path(plot_path)] = plot_png(out)
    write_files(files)
    out["model"] = str(out_path)
    if as_json:
        emit_json(out)
    else:
        click.echo(text_summary(out, str(out_path)))


def _default_results(out_path: str) -> Path:
    """``m.json`` -> ``m.results.jsonl`` beside it."""
    p = Path(out_path)
    return p.with_name((p.stem if p.suffix == ".json" else p.name) + ".results.jsonl")
