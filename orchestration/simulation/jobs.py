"""The simulation's job: one window of simulated traffic into the landing folder."""

from dagster import AssetSelection, define_asset_job

from orchestration.simulation.assets import simulated_logs

SIMULATE = "simulate_job"

simulate_job = define_asset_job(
    SIMULATE,
    selection=AssetSelection.assets(simulated_logs),
    description="Simulate a window of traffic into the landing folder.",
)
