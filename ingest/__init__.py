"""Ingest owns the event contract and turns tracking logs into the raw Parquet lake."""
