"""`bidlake ui`: the Dagster UI (webserver + daemon) on localhost, over this home's instance.

It runs `dagster dev` on `orchestration.definitions` with `DAGSTER_HOME=<home>/dagster`,
so the UI shows the same runs, materializations and checks that `bidlake run` records. The
daemon comes with it because sensors (new landing files), schedules, run monitoring and the
run queue all live in the daemon; a webserver alone would show them switched off.

Binds 127.0.0.1 by default: the UI can launch runs and has no authentication.
Stops on Ctrl-C / SIGTERM, taking the webserver, daemon and code server with it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from bidlake.paths import REPO_ROOT

DEFAULT_PORT = 3000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s)"
    )


def command(host: str, port: int) -> list[str]:
    """The `dagster dev` command line serving the platform's definitions."""
    return [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "--module-name",
        "orchestration.definitions",
        "--working-directory",
        str(REPO_ROOT),
        "--host",
        host,
        "--port",
        str(port),
    ]


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from orchestration.instance import open_instance

    console = Console(stderr=True)
    # Writes dagster.yaml, exports DAGSTER_HOME for the children, creates the pools' slots.
    with open_instance() as instance:
        root = Path(instance.root_directory or "")
    url = f"http://{args.host}:{args.port}"
    console.print(f"Dagster UI on [bold]{url}[/] — instance {root} (Ctrl-C stops it)")
    console.print(f"  asset graph: {url}/asset-groups   runs: {url}/runs")
    # `dagster dev` shuts its webserver, daemon and code server down on SIGINT/SIGTERM — but
    # only if SIGINT is not ignored, and a shell starting us in the background ignores it
    # (and exec keeps an ignored signal ignored). Re-enable it before starting the child.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # Own session: a Ctrl-C in the terminal reaches only us; we forward it once, and the
    # child's group can be killed as a whole if it does not stop in time.
    proc = subprocess.Popen(command(args.host, args.port), start_new_session=True)

    def forward(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, forward)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return stop(proc)


def stop(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """Ask `dagster dev` to shut down cleanly; kill its process group if it does not."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()
