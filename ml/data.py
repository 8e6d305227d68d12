"""Training data: the feature marts read from DuckDB, and the simulator's truth.

`load_examples(con, task, spec)` reads one model's mart through any DuckDB connection
(the published read-only catalog in production, an in-memory database in tests) and
returns an Arrow table of: the raw bid-time fields (`features.RAW_FIELDS`; those the spec
reads are required), `bid_id`, the event time in ms (`event_ms`), the UTC day (`day`,
"YYYY-MM-DD") and the 0/1 `label`. Rows are ordered by time then id, so a run over the
same data is reproducible (downsampling draws, the fingerprint). For CVR, only rows
whose label is mature are read: a click younger than the attribution window may still
convert, and counting it as a negative would bias the model low.

`load_truth(bid_ids, column, folder)` joins the simulator's truth (p_click or
p_conversion) to rows by bid_id, NaN where the truth has no row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ml.features import RAW_FIELDS, FeatureSpec


@dataclass(frozen=True)
class Task:
    """What one model learns, and where its rows come from."""

    name: str  # registry name
    table: str  # feature mart
    id_column: str  # the mart's primary key
    time_column: str  # timestamptz of the row's event
    date_column: str
    label: str  # boolean label column
    truth_column: str  # column of the simulator's truth with the true probability
    mature_column: str | None = None  # rows with this false are not used at all


TASKS: dict[str, Task] = {
    "ctr": Task(
        name="ctr",
        table="ftr_ctr_training",
        id_column="impression_id",
        time_column="impression_at",
        date_column="impression_date",
        label="is_clicked",
        truth_column="p_click",
    ),
    "cvr": Task(
        name="cvr",
        table="ftr_cvr_training",
        id_column="click_id",
        time_column="clicked_at",
        date_column="click_date",
        label="is_converted",
        truth_column="p_conversion",
        mature_column="is_label_mature",
    ),
}


class DataError(ValueError):
    """The mart is missing, lacks columns, or holds too little to train on."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def mart_columns(con: Any, table: str) -> list[str]:
    try:
        rows = con.execute(f"DESCRIBE {_quote(table)}").fetchall()
    except Exception as exc:  # duckdb.CatalogException et al.: name the table
        raise DataError(f"feature mart {table!r} is not queryable: {exc}") from exc
    return [str(r[0]) for r in rows]


def load_examples(con: Any, task: Task, spec: FeatureSpec) -> pa.Table:
    """The mart's rows for `task` as an Arrow table (see the module docstring)."""
    available = set(mart_columns(con, task.table))
    needed = {
        "bid_id",
        task.id_column,
        task.time_column,
        task.date_column,
        task.label,
        *spec.raw_fields,
        *([task.mature_column] if task.mature_column else []),
    }
    missing = sorted(needed - available)
    if missing:
        raise DataError(f"feature mart {task.table!r} lacks columns {missing}")
    # Every bid-time field the mart has, not only the spec's: the gate scores the current
    # model, whose spec may read fields the new one does not, on these same rows.
    read = [f for f in RAW_FIELDS if f in available]
    fields = ", ".join(_quote(f) for f in read)
    where = f"WHERE {_quote(task.mature_column)}" if task.mature_column else ""
    query = f"""
        SELECT
            bid_id,
            epoch_ms({_quote(task.time_column)}) AS event_ms,
            strftime({_quote(task.date_column)}, '%Y-%m-%d') AS day,
            coalesce({_quote(task.label)}, false)::INTEGER AS label,
            {fields}
        FROM {_quote(task.table)}
        {where}
        ORDER BY {_quote(task.time_column)}, {_quote(task.id_column)}
    """
    return con.sql(query).to_arrow_table()


def fingerprint(table: pa.Table) -> str:
    """SHA-256 of the rows' ids, times and labels in order: two trainings with the same
    fingerprint saw the same examples (features are functions of the mart's rows)."""
    digest = hashlib.sha256()
    for name in ("bid_id", "event_ms", "label"):
        column = table.column(name).combine_chunks()
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            values = column.to_numpy(zero_copy_only=False).astype(str)
            digest.update("\x00".join(values.tolist()).encode())
        else:
            digest.update(np.ascontiguousarray(column.to_numpy(zero_copy_only=False)).tobytes())
        digest.update(b"\x01")
    return "sha256:" + digest.hexdigest()


def truth_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*.parquet")
        if not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    )


def load_truth(bid_ids: pa.Array | pa.ChunkedArray, column: str, folder: Path) -> np.ndarray | None:
    """True probabilities aligned with `bid_ids` (NaN where unknown); None without truth."""
    files = truth_files(folder)
    if not files:
        return None
    import duckdb

    con = duckdb.connect()
    try:
        keys = pa.table({"bid_id": bid_ids, "pos": np.arange(len(bid_ids), dtype=np.int64)})
        con.register("_keys", keys)
        file_list = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
        result = con.sql(
            f"""
            WITH truth AS (
                SELECT bid_id, any_value({_quote(column)}) AS p
                FROM read_parquet({file_list}, union_by_name = true)
                GROUP BY bid_id
            )
            SELECT k.pos, t.p FROM _keys k LEFT JOIN truth t USING (bid_id) ORDER BY k.pos
            """
        ).to_arrow_table()
    finally:
        con.close()
    values = result.column("p").to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64)  # nulls become NaN
