"""The truth files: Parquet, one row per impression, read by ml for oracle metrics.

Columns (docs/interfaces.md): `bid_id` (string, the impression's bid_id), `p_click` (double,
true P(click | impression)) and `p_conversion` (double, true P(conversion within the
7-day window | click)). A file is written atomically (`bidlake.atomic_files`: a hidden temp
name, fsynced and renamed into place), so a reader never sees half of one; an existing file
is never overwritten (a second run of the same seed and window gets `-1`, `-2`, ... with
the same rows, which readers deduplicate by bid_id).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bidlake.atomic_files import atomic_write_with


def write_truth(
    folder: Path,
    name: str,
    bid_ids: Sequence[str],
    p_click: np.ndarray,
    p_conversion: np.ndarray,
) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not len(bid_ids) == len(p_click) == len(p_conversion):
        raise ValueError("truth columns of different lengths")
    table = pa.table(
        {
            "bid_id": pa.array(bid_ids, pa.string()),
            "p_click": pa.array(p_click, pa.float64()),
            "p_conversion": pa.array(p_conversion, pa.float64()),
        }
    )
    final = folder / f"{name}.parquet"
    n = 1
    while final.exists():
        final = folder / f"{name}-{n}.parquet"
        n += 1
    return atomic_write_with(final, lambda temp: pq.write_table(table, temp, compression="zstd"))
