"""The warehouse's `bidlake` subcommands, one module each (routed by `bidlake/cli.py`).

- `build`: `bidlake build`, dbt build then publication (warehouse.build)
- `sql`: `bidlake sql`, a read-only query of the published catalog (warehouse.catalog)
- `docs`: `bidlake docs`, dbt docs generated and served (warehouse.docs)
- `export_reporting`: `bidlake export-reporting`, the marts to PostgreSQL (warehouse.export)

Each exposes `add_arguments(parser)` and `run(args) -> int`, and imports dbt, DuckDB and
rich inside `run`, so `bidlake --help` stays fast.
"""
