"""`bidlake docs`: generate the dbt docs of the warehouse and serve them over HTTP."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to serve on (8080)")
    parser.add_argument(
        "--no-serve", action="store_true", help="generate only, into <home>/build/docs"
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from warehouse import docs

    console = Console(stderr=True)
    with console.status("dbt docs generate ..."):
        try:
            generated = docs.generate()
        except docs.DocsError as exc:
            console.print(f"[red]{exc}[/red]")
            return 1
    console.print(f"docs generated in {generated.directory}")
    if not generated.with_catalog:
        console.print(
            "[yellow]without column types and sizes: a build held the database "
            "(or none ran yet)[/yellow]"
        )
    if args.no_serve:
        return 0
    httpd = docs.server(generated.directory, args.host, args.port)
    port = httpd.server_address[1]
    console.print(f"serving the dbt docs on http://{args.host}:{port}/ (Ctrl-C stops)")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0
