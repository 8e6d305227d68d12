"""Simulating a long window on several cores: consecutive sub-windows, one per process.

A minute's traffic depends only on (seed, minute) and every event id on its request's
minute (`simulator.ids`), so a window split into consecutive sub-windows writes exactly
the records of the whole window (tests/simulator/test_run.py::test_windows_compose); each
sub-window names its files after its own first hour, so workers never share a file.
Events a sub-window causes after its end (late win notices, clicks, conversions) are
written by that sub-window, into files of their own hours, as in a single run.

Workers are started with "spawn" (a fresh interpreter that rebuilds the world from the
seed, about 1 s) rather than "fork": the caller may be running threads (rich's progress
refresher, Dagster), and forking a threaded process can deadlock the child.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
import traceback
from collections.abc import Callable
from dataclasses import replace

from simulator.run_types import ProgressFn, SimulationConfig, SimulationSummary

# One process's simulation of a whole window: `simulator.run.simulate_window`, passed in
# by `simulator.run.simulate` (so this module does not import the one that imports it). A
# module-level function, so "spawn" can send it to the workers by name.
SimulateFn = Callable[[SimulationConfig, ProgressFn | None], SimulationSummary]


def split(config: SimulationConfig, workers: int) -> list[SimulationConfig]:
    """Consecutive sub-windows of whole hours, as even as possible, at most `workers`."""
    return [replace(config, window=window) for window in config.window.split(workers)]


def _worker(
    simulate_one: SimulateFn, config: SimulationConfig, messages: mp.Queue, index: int
) -> None:
    try:

        def report(done: int, total: int, records: int) -> None:
            messages.put(("progress", index, done, records))

        messages.put(("done", index, simulate_one(config, report)))
    except BaseException:
        messages.put(("error", index, traceback.format_exc()))


def simulate_parallel(
    config: SimulationConfig,
    workers: int,
    simulate_one: SimulateFn,
    progress: ProgressFn | None = None,
) -> SimulationSummary:
    """`config`'s window on up to `workers` processes, each running `simulate_one` on a
    consecutive sub-window; the summary of them all."""
    started = time.perf_counter()
    parts = split(config, workers)
    context = mp.get_context("spawn")
    messages: mp.Queue = context.Queue()
    processes = [
        context.Process(target=_worker, args=(simulate_one, part, messages, i), daemon=True)
        for i, part in enumerate(parts)
    ]
    for process in processes:
        process.start()
    results: dict[int, SimulationSummary] = {}
    done = [0] * len(parts)
    records = [0] * len(parts)
    try:
        while len(results) < len(parts):
            try:
                message = messages.get(timeout=1.0)
            except queue.Empty:
                # A worker killed from outside sends nothing: notice it by its exit code.
                for i, process in enumerate(processes):
                    if i not in results and process.exitcode not in (None, 0):
                        raise RuntimeError(
                            f"simulation worker {i} ({parts[i].window.start:%Y-%m-%dT%H}, "
                            f"{parts[i].window.hours} h) died with exit code {process.exitcode}"
                        ) from None
                continue
            kind, index = message[0], message[1]
            if kind == "error":
                raise RuntimeError(f"simulation worker {index} failed:\n{message[2]}")
            if kind == "progress":
                done[index], records[index] = message[2], message[3]
                if progress is not None:
                    progress(sum(done), config.window.minutes, sum(records))
            else:
                results[index] = message[2]
    finally:
        for process in processes:
            if process.is_alive() and len(results) < len(parts):
                process.terminate()
            process.join()
    summary = SimulationSummary(
        window=config.window,
        landing=results[0].landing,
        truth=results[0].truth,
    )
    for i in range(len(parts)):
        summary.add(results[i])
    summary.elapsed_s = time.perf_counter() - started
    return summary
