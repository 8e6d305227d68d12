"""Performance harness: `make bench` runs every `benchmarks/<part>/bench.py`.

Each bench module exposes `run() -> list[Figure]`. Figures are printed with the ratio to
their baseline, which each bench runs itself in the same process tree, so numbers from
different machines compare as ratios. Nothing here asserts a wall-clock time.
"""
