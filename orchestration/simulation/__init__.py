"""Simulation: the outside world as Dagster sees it — simulated tracking logs landing.

`assets.py` (`landing/simulated_logs`), `jobs.py` (`simulate_job`); `definitions.py`
gathers them into this area's `defs`.
"""
