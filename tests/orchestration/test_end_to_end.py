"""One small partition end to end with `dagster.materialize`, through the real parts:
simulated logs → raw lake (one hour) → every dbt model (that day), with the reconciliation
and the dbt tests evaluated as checks, and the published catalog agreeing with the lake.
(Training and the bidder replay run in `test_run_stages.py`, through `bidlake run`.)"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration import definitions
from orchestration.lake import assets as lake
from orchestration.lake.checks import ingest_reconciliation
from orchestration.landing import closed_log_files
from orchestration.simulation import assets as simulation
from orchestration.warehouse.definitions import warehouse_dbt_models

HOUR = "2026-01-05-00:00"
DAY = "2026-01-05"


def test_one_hour_through_the_platform(home: Path) -> None:
    resources = definitions.defs.resources or {}
    with dg.DagsterInstance.ephemeral() as instance:
        simulated = dg.materialize(
            [simulation.simulated_logs],
            instance=instance,
            resources=resources,
            run_config={
                "ops": {
                    simulation.simulated_logs.op.name: {
                        # 5/s for an hour: every event type appears (one conversion).
                        "config": {"start": "2026-01-05T00", "hours": 1, "rate": 5.0}
                    }
                }
            },
        )
        assert simulated.success

        # The hour's partition, with every file the simulation wrote — its last clicks'
        # conversions land in files of later hours — as `bidlake run` does.
        files = [str(p) for p in closed_log_files(home / "landing")]
        ingested = dg.materialize(
            [lake.ingest_tracking_logs, ingest_reconciliation],
            partition_key=HOUR,
            instance=instance,
            resources=resources,
            run_config={"ops": {lake.INGEST_OP: {"config": {"files": files}}}},
        )
        assert ingested.success
        assert all(e.passed for e in ingested.get_asset_check_evaluations())
        raw_rows = {
            e.asset_key.path[-1]: e.materialization.metadata["raw"].value  # type: ignore[union-attr]
            for e in ingested.get_asset_materialization_events()
        }
        assert raw_rows["bid_request"] > 0 and raw_rows["impression"] > 0

        built = dg.materialize(
            [warehouse_dbt_models], partition_key=DAY, instance=instance, resources=resources
        )
        assert built.success
        partition_of = {
            e.asset_key.to_user_string(): e.partition
            for e in built.get_asset_materialization_events()
        }
        # One dbt build: the incremental models for the day, the whole-history ones unpartitioned.
        assert partition_of["features/ftr_ctr_training"] == DAY
        assert partition_of["reporting/rpt_campaign_daily"] is None
        tests = built.get_asset_check_evaluations()
        assert len(tests) > 20  # dbt tests arrive as asset checks
        assert all(t.passed for t in tests), [t.check_name for t in tests if not t.passed]

    from warehouse.catalog import connect_read_only

    con = connect_read_only()
    try:
        [(impressions,)] = con.execute("select sum(impressions) from rpt_campaign_daily").fetchall()
        [(features,)] = con.execute("select count(*) from ftr_ctr_training").fetchall()
    finally:
        con.close()
    # The simulator writes no duplicates or garbage by default: every raw impression is
    # one reported impression and one CTR training row.
    assert impressions == raw_rows["impression"] == features
