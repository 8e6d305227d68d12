"""`bidlake train [--model ctr|cvr|all]`: train, evaluate, export and print the metrics.

Reads the feature marts from the published warehouse catalog (or `--database`, any
DuckDB file holding `ftr_ctr_training` / `ftr_cvr_training`), compares with the
simulator's truth when `<home>/truth` (or `--truth`) has it, and writes the models to
`<home>/models`. Exit status 0 when every requested model was trained and exported
(promoted or not: the gate's verdict is printed), 1 when one could not be.
Heavy imports (scikit-learn, DuckDB) happen in `run`, so `bidlake --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

MODELS = ("ctr", "cvr")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=(*MODELS, "all"), default="all")
    parser.add_argument(
        "--database",
        type=Path,
        help="DuckDB file with the feature marts (default: the published warehouse catalog)",
    )
    parser.add_argument(
        "--truth", type=Path, help="simulator truth folder (default: <home>/truth if present)"
    )
    parser.add_argument(
        "--negative-rate",
        type=float,
        help="fraction of negatives kept for training (default: automatic; 1 = all)",
    )
    parser.add_argument(
        "--c-grid",
        type=lambda s: tuple(float(v) for v in s.split(",")),
        help="comma-separated inverse regularization strengths to choose from",
    )
    parser.add_argument("--hash-bits", type=int, default=20, help="2**bits hash buckets")
    parser.add_argument("--max-train-days", type=int, help="train on at most this many days")
    parser.add_argument("--no-promote", action="store_true", help="export, but never move CURRENT")
    parser.add_argument("--json", action="store_true", help="print results as JSON")


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def metrics_table(result: Any) -> Any:
    """Rich table: each holdout metric of the model beside the oracle's."""
    from rich.table import Table

    model = result.metrics.get("model_on_truth_rows") or result.metrics["model"]
    oracle = result.metrics.get("oracle")
    coverage = result.metrics.get("truth_coverage", 0.0)
    table = Table(title=f"{result.name} holdout ({', '.join(result.window['holdout_days'])})")
    table.add_column("metric")
    table.add_column(f"model {result.version}", justify="right")
    table.add_column("oracle (true p)" if oracle else "oracle (no truth)", justify="right")
    rows = [
        ("rows", "rows", 0),
        ("positives", "positives", 0),
        ("base rate", "base_rate", 5),
        ("AUC", "auc", 4),
        ("log loss", "log_loss", 5),
        ("normalized entropy", "normalized_entropy", 4),
        ("calibration Σp/Σy", "calibration", 3),
        ("Brier", "brier", 6),
    ]
    for label, key, digits in rows:
        table.add_row(
            label,
            _fmt(model[key], digits) if digits else _fmt(model[key]),
            (_fmt(oracle[key], digits) if digits else _fmt(oracle[key])) if oracle else "-",
        )
    if oracle and coverage < 1:
        table.caption = f"on the {coverage:.1%} of holdout rows the truth covers"
    return table


def _summary(result: Any) -> str:
    verdict = "PROMOTED" if result.promoted else "not promoted"
    lines = [
        f"[bold]{result.name}[/] {result.version}: {verdict} — {result.reason}",
        f"  C={result.chosen_C:g}, negative rate {result.window['negative_rate']:.3g}, "
        f"{result.rows_read:,} rows read, {result.rows_fitted:,} fitted, "
        f"train {_days(result.window['train_days'])}",
        f"  scorer parity max |Δp| = {result.parity_max_abs_diff:.2e}; "
        f"took {sum(result.timings.values()):.1f}s",
        f"  artifact {result.path}",
        f"  plots {', '.join(str(p) for p in result.plots)}",
    ]
    return "\n".join(lines)


def _days(days: list[str]) -> str:
    if len(days) <= 2:
        return ", ".join(days)
    return f"{days[0]}..{days[-1]} ({len(days)} days)"


def _as_json(result: Any) -> dict[str, Any]:
    return {
        "name": result.name,
        "version": result.version,
        "path": str(result.path),
        "promoted": result.promoted,
        "reason": result.reason,
        "chosen_C": result.chosen_C,
        "metrics": {
            k: ({m: v for m, v in d.items() if m != "deciles"} if isinstance(d, dict) else d)
            for k, d in result.metrics.items()
        },
        "window": result.window,
        "parity_max_abs_diff": result.parity_max_abs_diff,
        "plots": [str(p) for p in result.plots],
    }


def run(args: argparse.Namespace) -> int:
    import duckdb
    from rich.console import Console

    from ml.data import DataError
    from ml.export import ExportError, train_and_export
    from ml.train import DEFAULT_C_GRID, TrainConfig

    console = Console(stderr=args.json)
    names = MODELS if args.model == "all" else (args.model,)
    try:
        config = TrainConfig(
            negative_rate=args.negative_rate,
            c_grid=args.c_grid or DEFAULT_C_GRID,
            hash_bits=args.hash_bits,
            max_train_days=args.max_train_days,
        )
    except ValueError as exc:
        console.print(f"[red]bidlake train: {exc}[/]")
        return 2
    if args.database is not None and not args.database.exists():
        console.print(f"[red]bidlake train: no database at {args.database}[/]")
        return 2
    con = duckdb.connect(str(args.database), read_only=True) if args.database else None
    results, failed = [], []
    try:
        for name in names:
            with console.status(f"training {name}") as status:
                try:
                    result = train_and_export(
                        name,
                        con=con,
                        truth_dir=args.truth,
                        config=config,
                        promote=not args.no_promote,
                        progress=status.update,
                    )
                except (DataError, ExportError) as exc:
                    console.print(f"[red]{name}: not trained: {exc}[/]")
                    failed.append(name)
                    continue
            results.append(result)
            if not args.json:
                console.print(metrics_table(result))
                console.print(_summary(result))
    finally:
        if con is not None:
            con.close()
    if args.json:
        print(json.dumps([_as_json(r) for r in results], indent=2))
    return 1 if failed else 0
