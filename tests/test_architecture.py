"""The house rules: which part may import which, and what the bidder's process never loads.

`docs/architecture.md` draws the same table; change both together. The rules are checked
on the source (every `import`, at module level or inside a function), so a lazy import
cannot slip past them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Part -> the other parts it may import. Everything not listed is forbidden.
ALLOWED: dict[str, set[str]] = {
    "bidlake": set(),  # the ground floor: paths, campaign book, atomic files, CLI router
    "contract": {"bidlake"},
    "ingest": {"bidlake", "contract"},
    "simulator": {"bidlake", "contract"},
    "warehouse": {"bidlake", "contract", "ingest"},
    "ml": {"bidlake", "contract", "warehouse"},
    "bidder": {"bidlake", "contract", "ml"},
    "orchestration": {"bidlake", "contract", "ingest", "ml", "simulator", "warehouse"},
}
PARTS = set(ALLOWED)

# The bidder may use only the pure, dependency-free side of ml: the scorer and the
# registry that finds the current artifact. Training pulls scikit-learn and numpy.
BIDDER_MAY_IMPORT_FROM_ML = {"ml.scorer", "ml.registry", "ml.artifact", "ml.features"}

# Never in the bidder's process: heavy, slow to import, or belonging to other parts.
NEVER_IN_BIDDER = ("numpy", "pyarrow", "pandas", "sklearn", "dbt", "dagster", "duckdb")


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from ml import registry` names the module ml.registry: yield each name under
            # its module, so rules about submodules see it.
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _part_files(part: str) -> list[Path]:
    return sorted((REPO / part).rglob("*.py"))


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_parts_import_only_what_they_may(part: str) -> None:
    files = _part_files(part)
    assert files, f"no Python files found for part {part!r} under {REPO / part}"
    broken = []
    for path in files:
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in PARTS and top != part and top not in ALLOWED[part]:
                broken.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    assert not broken, f"{part} may import only {sorted(ALLOWED[part])}:\n" + "\n".join(broken)


def test_the_bidder_uses_only_the_pure_side_of_ml() -> None:
    broken = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in _part_files("bidder")
        for line, module in _imports(path)
        if module.split(".")[0] == "ml"
        and not any(module == m or module.startswith(m + ".") for m in BIDDER_MAY_IMPORT_FROM_ML)
    ]
    assert not broken, "\n".join(broken)


def test_the_rules_catch_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: a planted forbidden import is found (so it cannot pass vacuously)."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from orchestration import definitions\n")
    assert [m for _, m in _imports(planted)] == ["orchestration.definitions"]


@pytest.mark.parametrize("entry", ["bidder.app", "bidder.service", "bidder.cli"])
def test_the_bidder_process_never_loads_heavy_or_foreign_packages(entry: str) -> None:
    """Import the bidder in a fresh interpreter and look at everything it loaded."""
    forbidden = (*NEVER_IN_BIDDER, "orchestration", "simulator", "ingest", "warehouse")
    probe = (
        f"import sys, {entry}\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = result.stdout.strip()
    assert loaded == "", f"importing {entry} loaded: {loaded}"
