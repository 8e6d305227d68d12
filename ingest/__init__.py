"""Ingest turns closed tracking logs (written as `contract` says) into the raw Parquet lake."""
