"""The bidder's job: one replay of fresh traffic against the bidder serving CURRENT models."""

from dagster import AssetSelection, define_asset_job

from orchestration.bidder.assets import bidder_replay

REPLAY = "replay_job"

replay_job = define_asset_job(
    REPLAY,
    selection=AssetSelection.assets(bidder_replay),
    description="Start the bidder, replay fresh exchange traffic to it, stop it.",
)
