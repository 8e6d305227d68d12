"""The Kafka ingest asset: the topics drained into the lake through Dagster, once."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from bidder.kafka_logs import KafkaLogs
from contract.events import EVENT_TYPES
from orchestration.lake import assets as lake
from orchestration.resources import PlatformResource
from tests.ingest.factories import event
from tests.support.kafka import MockCluster, kafka_cluster, lake_counts  # noqa: F401

pytestmark = pytest.mark.kafka


def test_the_asset_drains_the_topics_into_the_lake_once(
    home: Path,
    tmp_path: Path,
    kafka_cluster: MockCluster,  # noqa: F811
) -> None:
    logs = KafkaLogs(kafka_cluster.bootstrap, tmp_path / "spill", "producer")
    logs.open()
    for event_type in EVENT_TYPES:
        for i in range(50):
            logs.write(event_type, event(event_type, i))
    assert logs.flush(10) == 0
    logs.close()

    def materialize() -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [lake.kafka_ingest],
            resources={"platform": PlatformResource()},
            run_config={
                "ops": {
                    "lake__kafka_ingest": {
                        "config": {"bootstrap": kafka_cluster.bootstrap, "max_seconds": 60.0}
                    }
                }
            },
        )

    first = materialize()
    assert first.success
    metadata = first.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["messages"].value == 50 * len(EVENT_TYPES)
    assert lake_counts(home) == {t: (50, 50) for t in EVENT_TYPES}
    again = materialize()  # caught up: nothing new, nothing twice
    assert again.success
    assert lake_counts(home) == {t: (50, 50) for t in EVENT_TYPES}
