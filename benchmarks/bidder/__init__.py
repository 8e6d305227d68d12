"""Bidder benchmarks: wrk and an open-loop generator against the real server."""
