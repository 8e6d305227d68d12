"""dbt docs for the warehouse: generated into <home>/build/docs, served over HTTP.

Generation runs `dbt docs generate` against the build database, under the home's build
lock (dbt opens that file read-write). When a build holds it, the docs are generated
without the database (`--empty-catalog`, profile target `lint`): descriptions, lineage and
SQL are all there, only column types and row counts are missing - and say so.
Serving is Python's own static file server: the docs are three files (index.html,
manifest.json, catalog.json), so `dbt docs serve` would add nothing but a browser launch.
"""

from __future__ import annotations

import functools
import http.server
import os
from dataclasses import dataclass
from pathlib import Path

from bidlake.paths import Home
from bidlake.paths import home as current_home
from warehouse import locking, project
from warehouse.build import _release_duckdb, dbt_args, environ_overrides


class DocsError(RuntimeError):
    pass


@dataclass(frozen=True)
class GeneratedDocs:
    directory: Path
    with_catalog: bool  # False: generated while a build held the database


def docs_dir(home: Home) -> Path:
    return home.root / "build" / "docs"


def generate(home: Home | None = None) -> GeneratedDocs:
    """Writes index.html, manifest.json and catalog.json to <home>/build/docs."""
    home = home or current_home()
    home.root.mkdir(parents=True, exist_ok=True)
    target = docs_dir(home)
    args = dbt_args(home, command="docs")
    args = ["docs", "generate", *args[1:]]
    args[args.index("--target-path") + 1] = str(target)
    args += ["--log-level", "none", "--log-level-file", "info"]
    try:
        with locking.exclusive(project.build_lock(home), "generate docs"):
            with_catalog = project.build_database(home).exists()
            _run(args if with_catalog else [*args, "--empty-catalog"], home, target_name=None)
    except locking.WarehouseBusyError:
        with_catalog = False
        _run([*args, "--empty-catalog"], home, target_name="lint")
    return GeneratedDocs(target, with_catalog)


def _run(args: list[str], home: Home, target_name: str | None) -> None:
    from dbt.cli.main import dbtRunner

    env = project.dbt_env(home)
    if target_name:
        env["BIDLAKE_DBT_TARGET"] = target_name
    with environ_overrides(env):
        try:
            result = dbtRunner().invoke(args)
        finally:
            _release_duckdb()
    if not result.success:
        raise DocsError(f"dbt docs generate failed: {result.exception or 'see dbt.log'}")


def server(
    directory: Path, host: str = "127.0.0.1", port: int = 8080
) -> http.server.ThreadingHTTPServer:
    """An HTTP server for the generated docs (call serve_forever(); shutdown() stops it)."""
    if not (directory / "index.html").exists():
        raise DocsError(f"no docs in {directory}: generate them first")
    handler = functools.partial(_QuietHandler, directory=os.fspath(directory))
    return http.server.ThreadingHTTPServer((host, port), handler)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass
