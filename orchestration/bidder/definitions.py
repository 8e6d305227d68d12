"""The bidder area's definitions (merged into `orchestration.definitions`)."""

from dagster import Definitions

from orchestration.bidder.assets import bidder_replay
from orchestration.bidder.jobs import replay_job

defs = Definitions(assets=[bidder_replay], jobs=[replay_job])
