"""The bidder on fresh traffic: start `bidlake serve`, replay the exchange to it, stop it.

`assets.py` (`bidder/replay`), `jobs.py` (`replay_job`); `definitions.py` gathers them
into this area's `defs`. Nothing here imports the top-level `bidder` package: the bidder
runs as its own process, as in production.
"""
