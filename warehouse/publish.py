"""Publishing a build: immutable Parquet snapshots and a new read-only catalog.

Why: DuckDB lets one process write a database file and nobody else even read it meanwhile,
and readers that glob Parquet files being replaced see transient errors. So readers never
touch the build database or a file that can change. After a successful build, publish():

1. snapshots every table of the staging, reporting and features schemas of the build
   database into uniquely named Parquet files under `<home>/catalog/data/<model>/`.
   Incremental models are snapshotted per partition (UTC hour, or day): a partition whose
   last write (bidlake_state.partition_writes) is the one already published keeps its
   file, so an hourly publish writes about an hour of data, not the history;
2. lists the lake's files, for `raw_<event_type>` views over that explicit list;
3. re-creates each staging *view* of the build database over those raw views, so its
   de-duplication runs on the published file list, not on a glob;
4. creates a NEW small catalog file with those views, then atomically swaps the symlink
   `<home>/catalog/current.duckdb` to it - a reader sees the old or the new catalog,
   never a mix;
5. removes publications retired longer than the grace period ago, and the files only they
   used. A reader holding an old catalog keeps working for that long.

Published files are read-only on disk (docs/security.md, "Analyst SQL"): every file a
publication writes (snapshots, catalog, manifest) is 0444, each publication folder and
`data/` with its model folders 0555. Only publish() (under the build lock) makes `data/`
writable again while it adds and removes files, and a retired publication's folder before
deleting it; so a stray `COPY ... TO` over a snapshot fails for any user but root.

Costs: one Parquet write of each changed partition and of each full-rebuilt (small) table;
a lake listing; a catalog file of a few hundred KB. Nothing is ever modified in place.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bidlake.atomic_files import atomic_write, fsync_dir
from bidlake.paths import Home
from bidlake.paths import home as current_home
from warehouse import locking, project
from warehouse.catalog import CURRENT

if TYPE_CHECKING:
    import duckdb

PUBLISHED_SCHEMAS = ("staging", "reporting", "features")
DEFAULT_GRACE_SECONDS = 3600.0
PUBLICATIONS = "publications"
DATA = "data"
MANIFEST = "manifest.json"
CATALOG_FILE = "catalog.duckdb"
FILE_MODE = 0o444  # every published file
DIR_MODE = 0o555  # data/, data/<model>/, publications/<id>/ once complete
WRITABLE_DIR_MODE = 0o755  # the same, while publish() adds or removes entries
# Same partition layout and read options as the dbt source (_tracker__sources.yml).
LAKE_READ_OPTIONS = (
    "hive_partitioning = true, union_by_name = true, "
    "hive_types = {'event_date': 'DATE', 'event_hour': 'INTEGER'}"
)


class PublishError(RuntimeError):
    """The build database cannot be published (missing, locked, or inconsistent)."""


@dataclass(frozen=True)
class PublishedRelation:
    name: str
    kind: str  # "snapshot" (Parquet files), "view" (staging over raw), "raw" (lake files)
    files: int  # files the view reads
    files_written: int  # of which written by this publication
    rows_written: int


@dataclass(frozen=True)
class Publication:
    publication_id: str
    catalog: Path
    published_at: datetime
    relations: tuple[PublishedRelation, ...]
    elapsed_s: float
    removed_publications: int = 0
    removed_files: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)


def grace_seconds() -> float:
    return float(os.environ.get("BIDLAKE_CATALOG_GRACE_SECONDS", DEFAULT_GRACE_SECONDS))


def publish(home: Home | None = None, *, grace: float | None = None) -> Publication:
    """Publishes the current build database of `home` (default: BIDLAKE_HOME)."""
    home = home or current_home()
    with locking.exclusive(project.build_lock(home), "publish"):
        return publish_locked(home, grace=grace)


def publish_locked(home: Home, *, grace: float | None = None) -> Publication:
    """publish() for a caller that already holds the home's build lock (build())."""
    import duckdb

    started = time.perf_counter()
    build_db = project.build_database(home)
    if not build_db.exists():
        raise PublishError(f"nothing to publish: {build_db} does not exist (run a build)")
    catalog_dir = home.catalog
    published_at = datetime.now(UTC)
    publication_id = f"{published_at:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"
    pub_dir = catalog_dir / PUBLICATIONS / publication_id
    pub_dir.mkdir(parents=True)
    previous = _load_manifest(_current_publication_dir(catalog_dir))

    with _writable_data(catalog_dir / DATA), _unpublished_on_error(pub_dir) as attempt:
        try:
            source = duckdb.connect(str(build_db), read_only=True)
        except duckdb.Error as exc:
            raise PublishError(f"cannot open the build database {build_db}: {exc}") from exc
        try:
            source.execute("set TimeZone = 'UTC'")
            writer = _SnapshotWriter(source, catalog_dir, publication_id, previous)
            relations, views = writer.run(home.raw)
            invocation = _scalar(source, "select invocation_id from bidlake_state.invocation")
        finally:
            source.close()

        lake_root = home.raw
        raw = _raw_relations(lake_root)
        descriptions = _model_descriptions(project.dbt_target_dir(home) / "manifest.json")
        manifest = {
            "publication_id": publication_id,
            "published_at": published_at.isoformat(),
            "build_invocation_id": invocation,
            "relations": {
                **writer.manifest,
                **{r.name: {"kind": "raw", "files": f} for r, f in raw},
            },
        }
        _write_catalog(
            pub_dir / CATALOG_FILE,
            snapshots=writer.manifest,
            catalog_dir=catalog_dir,
            staging_views=views,
            raw=raw,
            lake_root=lake_root,
            publication=(publication_id, published_at, invocation),
            descriptions=descriptions,
        )
        atomic_write(pub_dir / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        for path in pub_dir.iterdir():
            path.chmod(FILE_MODE)
        pub_dir.chmod(DIR_MODE)
        _swap_current(catalog_dir, publication_id)
        attempt.live = True
        removed_pubs, removed_files = _collect_garbage(
            catalog_dir, grace=grace_seconds() if grace is None else grace
        )
    return Publication(
        publication_id=publication_id,
        catalog=pub_dir / CATALOG_FILE,
        published_at=published_at,
        relations=(
            *relations,
            *(PublishedRelation(name, "view", 0, 0, 0) for name in sorted(views)),
            *(r for r, _ in raw),
        ),
        elapsed_s=time.perf_counter() - started,
        removed_publications=removed_pubs,
        removed_files=removed_files,
    )


@dataclass
class _Attempt:
    live: bool = False  # the symlink points at it: nothing to undo any more


@contextlib.contextmanager
def _unpublished_on_error(pub_dir: Path) -> Iterator[_Attempt]:
    """A publication that fails before it goes live (a full disk, a refused write) is
    undone: its folder and the snapshot files it wrote are deleted at once (not after the
    grace period: they may be what filled the disk), readers keep the current catalog, and
    a file system or DuckDB error becomes a PublishError naming the publication."""
    import duckdb

    attempt = _Attempt()
    try:
        yield attempt
    except Exception as exc:
        if attempt.live:
            raise
        publication_id, catalog_dir = pub_dir.name, pub_dir.parent.parent
        for path in (catalog_dir / DATA).glob(f"*/*{publication_id}.parquet"):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            pub_dir.chmod(0o755)
        shutil.rmtree(pub_dir, ignore_errors=True)
        if not isinstance(exc, OSError | duckdb.Error):
            raise
        raise PublishError(
            f"publication {publication_id} in {catalog_dir} failed, the published catalog is "
            f"unchanged: {exc}"
        ) from exc


# ---------------------------------------------------------------- snapshots of the build


class _SnapshotWriter:
    """Writes the Parquet snapshots of one publication; remembers them in `manifest`."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        catalog_dir: Path,
        publication_id: str,
        previous: dict[str, Any],
    ) -> None:
        self.con = con
        self.catalog_dir = catalog_dir
        self.publication_id = publication_id
        self.previous = previous.get("relations", {})
        self.manifest: dict[str, dict[str, Any]] = {}

    def run(self, lake_root: Path) -> tuple[list[PublishedRelation], dict[str, str]]:
        """Snapshots tables (and views not over the lake); returns the lake views' SQL."""
        schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
        tables = self.con.execute(
            f"select schema_name, table_name from duckdb_tables() "
            f"where database_name = current_database() and schema_name in ({schemas}) "
            f"order by table_name"
        ).fetchall()
        views = self.con.execute(
            f"select schema_name, view_name, sql from duckdb_views() "
            f"where database_name = current_database() and schema_name in ({schemas}) "
            f"and not internal order by view_name"
        ).fetchall()
        specs = self._partition_specs()
        relations = []
        lake_views = {}
        for schema, name, create_sql in views:
            if _reads_lake(create_sql, lake_root):
                # Re-created in the catalog over the published raw views (cheap, current).
                lake_views[name] = create_sql
            else:
                # e.g. the campaign book read from its JSON file: a snapshot of what it is now.
                tables.append((schema, name))
        for schema, name in tables:
            relation = f'"{schema}"."{name}"'
            if name in specs:
                relations.append(self._partitioned(name, relation, *specs[name]))
            else:
                relations.append(self._whole(name, relation))
        return relations, lake_views

    def _partition_specs(self) -> dict[str, tuple[str, str | None]]:
        has_state = self.con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'bidlake_state' "
            "and table_name = 'partition_spec'"
        ).fetchall()[0][0]
        if not has_state:
            return {}
        rows = self.con.execute(
            "select model, date_expr, hour_expr from bidlake_state.partition_spec"
        ).fetchall()
        return {model: (date_expr, hour_expr) for model, date_expr, hour_expr in rows}

    def _data_dir(self, name: str) -> Path:
        path = self.catalog_dir / DATA / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self.catalog_dir))

    def _copy(self, select: str, target: Path) -> int:
        written = self.con.execute(
            f"copy ({select}) to {_sql_string(str(target))} "
            f"(format parquet, compression zstd, row_group_size 122880)"
        ).fetchall()
        target.chmod(FILE_MODE)
        return int(written[0][0])

    def _whole(self, name: str, relation: str) -> PublishedRelation:
        """A table rebuilt in full by each build: one new file."""
        target = self._data_dir(name) / f"{self.publication_id}.parquet"
        rows = self._copy(f"select * from {relation}", target)
        self.manifest[name] = {"kind": "snapshot", "files": [self._relative(target)]}
        return PublishedRelation(name, "snapshot", 1, 1, rows)

    def _partitioned(
        self, name: str, relation: str, date_expr: str, hour_expr: str | None
    ) -> PublishedRelation:
        """An incremental table: one file per partition, kept while its write is unchanged."""
        writes = self.con.execute(
            "select part_date::varchar, part_hour, invocation_id "
            "from bidlake_state.partition_writes where model = ? order by 1, 2",
            [name],
        ).fetchall()
        before = self.previous.get(name, {}).get("partitions", {})
        partitions: dict[str, dict[str, Any]] = {}
        changed: list[tuple[str, str, int | None, str]] = []
        for part_date, part_hour, write in writes:
            key = f"{part_date}|{'*' if part_hour is None else part_hour}"
            old = before.get(key)
            if old and old["write"] == write and (self.catalog_dir / old["file"]).exists():
                partitions[key] = old
            else:
                changed.append((key, part_date, part_hour, write))
        rows = 0
        for key, part_date, part_hour, write in changed:
            where = f"{date_expr} = date {_sql_string(part_date)}"
            if hour_expr is not None and part_hour is not None:
                where += f" and {hour_expr} = {int(part_hour)}"
            label = part_date if part_hour is None else f"{part_date}T{int(part_hour):02d}"
            target = self._data_dir(name) / f"{label}-{self.publication_id}.parquet"
            rows += self._copy(f"select * from {relation} where {where}", target)
            partitions[key] = {"file": self._relative(target), "write": write}
        files = [p["file"] for _, p in sorted(partitions.items())]
        written = len(changed)
        if not files:
            # No partition yet: an empty file still gives the view its columns.
            target = self._data_dir(name) / f"empty-{self.publication_id}.parquet"
            self._copy(f"select * from {relation} limit 0", target)
            files, written = [self._relative(target)], 1
        self.manifest[name] = {"kind": "snapshot", "files": files, "partitions": partitions}
        return PublishedRelation(name, "snapshot", len(files), written, rows)


# ------------------------------------------------------------------------- the raw lake


def _raw_relations(lake_root: Path) -> list[tuple[PublishedRelation, list[str]]]:
    from contract.events import EVENT_TYPES

    out = []
    for event_type in EVENT_TYPES:
        files = sorted(
            str(p)
            for p in (lake_root / event_type).glob("event_date=*/event_hour=*/*.parquet")
            if not p.name.startswith((".", "_"))
        )
        out.append((PublishedRelation(f"raw_{event_type}", "raw", len(files), 0, 0), files))
    return out


def _raw_view_sql(event_type: str, files: list[str]) -> str:
    if files:
        listing = ", ".join(_sql_string(f) for f in files)
        return f"select * from read_parquet([{listing}], {LAKE_READ_OPTIONS})"
    # No file yet: the contract's columns, typed, and no rows.
    from ingest.lake_schema import arrow_schema

    columns = [
        f"null::{_duckdb_type(field.type)} as {field.name}" for field in arrow_schema(event_type)
    ]
    columns += ["null::date as event_date", "null::integer as event_hour"]
    return f"select {', '.join(columns)} where false"


def _duckdb_type(arrow_type: Any) -> str:
    import pyarrow as pa

    if pa.types.is_list(arrow_type):
        return _duckdb_type(arrow_type.value_type) + "[]"
    names = {
        pa.string(): "varchar",
        pa.int64(): "bigint",
        pa.int32(): "integer",
        pa.float64(): "double",
        pa.bool_(): "boolean",
    }
    return names[arrow_type]


_SOURCE_CALL = re.compile(r"read_parquet\('(?P<path>[^']*)/(?P<event_type>[a-z_]+)/event_date=\*")


def _reads_lake(create_sql: str, lake_root: Path) -> bool:
    return any(Path(m["path"]) == lake_root for m in _SOURCE_CALL.finditer(create_sql))


def _staging_view_over_raw(name: str, create_sql: str, lake_root: Path) -> str:
    """The staging view's query with its lake source replaced by the raw view.

    DuckDB stores a view's SQL normalized: `CREATE VIEW s.v AS WITH "source" AS (SELECT *
    FROM read_parquet('<lake>/<type>/event_date=*/...', ...)) ...`. The single
    read_parquet(...) call on the lake is found (up to its balanced closing parenthesis)
    and replaced by raw_<type>; anything else is refused rather than published wrong.
    """
    prefix = re.match(r"CREATE VIEW (\"?\w+\"?)\.(\"?\w+\"?) AS ", create_sql)
    if not prefix:
        raise PublishError(f"{name}: unexpected view definition {create_sql[:80]!r}")
    query = create_sql[prefix.end() :].rstrip().rstrip(";")
    calls = list(_SOURCE_CALL.finditer(query))
    if len(calls) != 1 or Path(calls[0]["path"]) != lake_root:
        raise PublishError(
            f"{name}: expected exactly one read_parquet over the lake {lake_root}, "
            f"found {[c['path'] for c in calls]}"
        )
    start = calls[0].start()
    end = _closing_paren(query, start + len("read_parquet"))
    return f"{query[:start]}raw_{calls[0]['event_type']}{query[end + 1 :]}"


def _closing_paren(text: str, open_at: int) -> int:
    """Index of the parenthesis closing the one at `open_at`, skipping quoted strings."""
    depth, i, quote = 0, open_at, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise PublishError(f"unbalanced parentheses in {text[open_at : open_at + 80]!r}")


# ------------------------------------------------------------------------------ catalog


def _write_catalog(
    path: Path,
    *,
    snapshots: dict[str, dict[str, Any]],
    catalog_dir: Path,
    staging_views: dict[str, str],
    raw: list[tuple[PublishedRelation, list[str]]],
    lake_root: Path,
    publication: tuple[str, datetime, str | None],
    descriptions: dict[str, str],
) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    try:
        con.execute("set TimeZone = 'UTC'")
        for relation, files in raw:
            event_type = relation.name.removeprefix("raw_")
            con.execute(f"create view {relation.name} as {_raw_view_sql(event_type, files)}")
            con.execute(
                f"comment on view {relation.name} is "
                + _sql_string(
                    f"The raw lake's {event_type} events as published, duplicates included "
                    f"(event contract columns + event_date, event_hour partitions)."
                )
            )
        for name, entry in sorted(snapshots.items()):
            listing = ", ".join(_sql_string(str(catalog_dir / f)) for f in entry["files"])
            # hive_partitioning off: snapshot paths are not partition columns.
            con.execute(
                f"create view {name} as select * from read_parquet([{listing}], "
                f"hive_partitioning = false)"
            )
        for name, create_sql in sorted(staging_views.items()):
            query = _staging_view_over_raw(name, create_sql, lake_root)
            con.execute(f"create view {name} as {query}")
        for name, text in descriptions.items():
            if name in snapshots or name in staging_views:
                con.execute(f"comment on view {name} is {_sql_string(text)}")
        publication_id, published_at, invocation = publication
        con.execute(
            "create table _publication as select ? as publication_id, "
            "?::timestamptz as published_at, ? as build_invocation_id",
            [publication_id, published_at, invocation],
        )
        # Every view must bind: a broken view is found here, not by an analyst.
        for (name,) in con.execute(
            "select view_name from duckdb_views() where not internal"
        ).fetchall():
            con.execute(f"select * from {name} limit 0").fetchall()
    finally:
        con.close()


def _model_descriptions(manifest_path: Path) -> dict[str, str]:
    """Model descriptions from dbt's manifest, for COMMENT ON VIEW (best effort)."""
    try:
        nodes = json.loads(manifest_path.read_text())["nodes"].values()
    except (OSError, ValueError, KeyError):
        return {}
    return {
        n["name"]: " ".join(n["description"].split())
        for n in nodes
        if n.get("resource_type") == "model" and n.get("description")
    }


def _swap_current(catalog_dir: Path, publication_id: str) -> None:
    link = catalog_dir / CURRENT
    tmp = catalog_dir / f".{CURRENT}.{publication_id}"
    os.symlink(Path(PUBLICATIONS) / publication_id / CATALOG_FILE, tmp)
    os.replace(tmp, link)  # atomic: readers resolve the old or the new target
    fsync_dir(catalog_dir)


def _current_publication_dir(catalog_dir: Path) -> Path | None:
    link = catalog_dir / CURRENT
    if not link.is_symlink():
        return None
    return link.resolve().parent


def _load_manifest(pub_dir: Path | None) -> dict[str, Any]:
    if pub_dir is None:
        return {}
    try:
        return json.loads((pub_dir / MANIFEST).read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------------- garbage collection


def _collect_garbage(catalog_dir: Path, *, grace: float) -> tuple[int, int]:
    """Drops publications retired more than `grace` seconds ago, then unreferenced files.

    A publication is retired when the next one is published (its successor's manifest
    time); a reader that opened it earlier may still be using it, hence the grace period.
    Publications without a manifest are interrupted ones: dropped once older than grace.
    """
    pubs_dir = catalog_dir / PUBLICATIONS
    current = _current_publication_dir(catalog_dir)
    now = time.time()
    entries = sorted(p for p in pubs_dir.iterdir() if p.is_dir())
    keep: list[Path] = []
    removed = 0
    for index, pub in enumerate(entries):
        manifest = pub / MANIFEST
        if current is not None and pub.resolve() == current:
            keep.append(pub)
            continue
        if not manifest.exists():
            retired_at = pub.stat().st_mtime
        else:
            successors = [e / MANIFEST for e in entries[index + 1 :] if (e / MANIFEST).exists()]
            retired_at = successors[0].stat().st_mtime if successors else now
        if now - retired_at > grace:
            _remove_tree(pub)
            removed += 1
        else:
            keep.append(pub)
    referenced: set[Path] = set()
    for pub in keep:
        relations = _load_manifest(pub).get("relations", {})
        for entry in relations.values():
            if entry.get("kind") == "snapshot":
                referenced.update(catalog_dir / f for f in entry["files"])
    removed_files = 0
    data_dir = catalog_dir / DATA
    for path in data_dir.rglob("*.parquet") if data_dir.exists() else ():
        if path not in referenced and now - path.stat().st_mtime > grace:
            path.unlink()
            removed_files += 1
    return removed, removed_files


def _remove_tree(folder: Path) -> None:
    """shutil.rmtree of a published (read-only) folder: its folders made writable first."""
    for path in (folder, *(p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink())):
        path.chmod(WRITABLE_DIR_MODE)
    shutil.rmtree(folder)


@contextlib.contextmanager
def _writable_data(data_dir: Path) -> Iterator[None]:
    """`data/` and its model folders writable for the block, read-only (0555) after it."""
    _set_dir_modes(data_dir, WRITABLE_DIR_MODE)
    try:
        yield
    finally:
        _set_dir_modes(data_dir, DIR_MODE)


def _set_dir_modes(data_dir: Path, mode: int) -> None:
    """`data/` and each model folder in it (not the files) to `mode`."""
    if not data_dir.is_dir():
        return
    data_dir.chmod(mode | 0o700)  # the owner must still list it to reach the folders
    for folder in data_dir.iterdir():
        if folder.is_dir() and not folder.is_symlink():
            folder.chmod(mode)
    data_dir.chmod(mode)


# ------------------------------------------------------------------------------ helpers


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _scalar(con: duckdb.DuckDBPyConnection, query: str) -> Any:
    try:
        rows = con.execute(query).fetchall()
    except Exception:  # bookkeeping is informative here, never required
        return None
    return rows[0][0] if rows else None
