"""The simulation area's definitions (merged into `orchestration.definitions`)."""

from dagster import Definitions

from orchestration.simulation.assets import simulated_logs
from orchestration.simulation.jobs import simulate_job

defs = Definitions(assets=[simulated_logs], jobs=[simulate_job])
