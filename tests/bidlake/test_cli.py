from __future__ import annotations

import pytest

from bidlake import cli


def test_help_lists_the_design_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ["simulate", "ingest", "build", "train", "serve", "replay", "sql", "run"]:
        assert name in out


def test_unbuilt_command_names_its_part_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = cli.Command("later", "bidlake.not_a_module_yet", "somewhere/", "a future step")
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, fake))
    assert cli.main(["later"]) == 2
    assert "provided by somewhere/" in capsys.readouterr().err


def test_a_named_subcommand_imports_only_its_own_module() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from bidlake import cli; cli.build_parser('sql'); "
        "heavy = ('dagster', 'sklearn', 'orchestration.run_cli'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
