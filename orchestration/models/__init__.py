"""The models: train, evaluate, gate and export CTR and CVR, and the artifacts the bidder serves.

`assets.py` (`models/<name>`, `models/<name>_artifact`, the `quality_gate` check),
`jobs.py` (`train_job`), `schedules.py` (daily training); `definitions.py` gathers them
into this area's `defs`.
"""
