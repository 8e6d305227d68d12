"""`python -m benchmarks [part ...]`: run the benches and print one table."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from benchmarks.harness import Figure, render


def main(parts: list[str]) -> int:
    root = Path(__file__).parent
    available = sorted(p.name for p in root.iterdir() if (p / "bench.py").exists())
    chosen = parts or available
    figures: list[Figure] = []
    for part in chosen:
        if part not in available:
            print(f"no benchmark named {part!r}; have {available}", file=sys.stderr)
            return 2
        print(f"running benchmarks/{part} ...", file=sys.stderr, flush=True)
        figures += importlib.import_module(f"benchmarks.{part}.bench").run()
    print(render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
