"""Soak: the bidder at a steady rate while ingest and build run beside it."""
