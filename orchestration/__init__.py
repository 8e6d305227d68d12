"""Dagster definitions: assets, partitions, schedules, sensors, checks, resources."""
