"""The warehouse: dbt over the raw lake, published as a read-only catalog for readers.

- `build()` (build.py) runs `dbt build` on dbt_project/ into the private build database
  `<home>/build.duckdb`, which only dbt opens, one build at a time; then `publish()`.
- `publish()` (publish.py) snapshots the models into immutable Parquet files and swaps in a
  new small read-only DuckDB catalog with views over them and over the raw lake.
- Readers are never blocked by a build: analysts (`bidlake sql`, notebooks, SQLAlchemy)
  through the sandbox `catalog.connect_analyst()` / `catalog.analyst_engine()`
  (sandbox.py), bidlake's own code (ml/, the export) through `catalog.connect_read_only()`.

Heavy modules (dbt, duckdb) are imported inside functions, so `import warehouse`
and the CLI's help stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from warehouse.build import BuildResult
    from warehouse.publish import Publication


def build(
    select: str | list[str] | None = None, vars: dict[str, Any] | None = None, **kwargs: Any
) -> BuildResult:
    """`dbt build` then `publish()`; see `warehouse.build.build`."""
    from warehouse.build import build as _build

    return _build(select=select, vars=vars, **kwargs)


def publish(**kwargs: Any) -> Publication:
    """Publish the build database as a new read-only catalog; see `publish.publish`."""
    from warehouse.publish import publish as _publish

    return _publish(**kwargs)


__all__ = ["build", "publish"]
