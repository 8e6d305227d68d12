"""The campaign book as data (bidlake.campaign_book): seeding, versioned changes and their
history, validation that names the field, the JSON round trip, migrations that match the
model, concurrent writers and first users, PostgreSQL, and the `bidlake campaigns` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select

from bidlake import cli
from bidlake.campaign_book import migrate
from bidlake.campaign_book.model import VERSION_TABLE, Base, HistoryRow
from bidlake.campaign_book.store import EPOCH, CampaignStore, UnknownCampaign
from bidlake.campaigns import DEFAULT_PATH, CampaignConfigError, read_book
from tests.support import postgres

REPO = Path(__file__).resolve().parents[2]
PACKAGED = DEFAULT_PATH.read_text()


@pytest.fixture
def store(home: Path) -> Iterator[CampaignStore]:
    s = CampaignStore()  # $BIDLAKE_HOME/campaigns.sqlite3 of the test's home
    yield s
    s.close()


def new_campaign(campaign_id: str = "cmp-900", **fields: object) -> dict:
    return {
        "campaign_id": campaign_id,
        "advertiser_id": "adv-new",
        "name": "New",
        "goal": "cpc",
        "goal_micros": 1_000_000,
        "max_bid_cpm_micros": 5_000_000,
        "daily_budget_micros": 50_000_000,
        "creatives": [{"creative_id": "cr-900", "width": 300, "height": 250, "format": "banner"}],
        **fields,
    }


# ---- seeding and the JSON round trip ----


def test_first_use_seeds_from_the_packaged_book_valid_since_1970(
    store: CampaignStore, home: Path
) -> None:
    assert store.version() == 1
    assert (home / "campaigns.sqlite3").exists()
    state = store.state()
    assert state.to_file().to_json() == PACKAGED  # byte for byte
    seeds = store.history()
    assert {c.action for c in seeds} == {"seed"}
    assert len(seeds) == len(state.campaigns)
    assert all(c.valid_from == EPOCH and c.valid_to is None for c in seeds)


def test_bidlake_campaigns_names_the_seed(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    book = json.loads(PACKAGED)
    book["campaigns"] = book["campaigns"][:1]
    seed = home / "seed.json"
    seed.write_text(json.dumps(book))
    monkeypatch.setenv("BIDLAKE_CAMPAIGNS", str(seed))
    with closing(CampaignStore()) as store:
        assert [d["campaign_id"] for d in store.state().campaigns] == ["cmp-101"]


def test_export_then_import_is_a_no_op(store: CampaignStore, tmp_path: Path) -> None:
    store.update("cmp-102", {"status": "paused", "targeting": {"hours": [3, 1, 2]}}, by="t")
    exported = store.state().to_file().to_json()
    path = tmp_path / "book.json"
    path.write_text(exported)
    assert json.loads(exported)["campaigns"][1]["status"] == "paused"
    assert json.loads(exported)["campaigns"][1]["targeting"]["hours"] == [3, 1, 2]  # order kept
    version = store.version()
    assert store.import_book(read_book(path, strict=True), by="t") == []
    assert store.version() == version
    assert store.state().to_file().to_json() == exported


# ---- versioned changes ----


def test_every_change_bumps_the_version_once_and_is_in_the_history(store: CampaignStore) -> None:
    change = store.update(
        "cmp-101", {"daily_budget_micros": 500_000_000}, by="alice", note="more reach"
    )
    assert change is not None
    assert (change.book_version, change.action, change.changed_by) == (2, "update", "alice")
    assert change.note == "more reach"
    assert change.diff() == [("daily_budget_micros", 400_000_000, 500_000_000)]
    assert change.before is not None and change.after is not None
    assert change.before["daily_budget_micros"] == 400_000_000
    assert store.version() == 2

    paused = store.set_status("cmp-101", "paused", by="bob")
    assert paused is not None and paused.action == "pause" and paused.book_version == 3
    assert paused.diff() == [("status", "active", "paused")]
    assert store.set_status("cmp-101", "paused", by="bob") is None  # nothing to change
    assert store.update("cmp-101", {"daily_budget_micros": 500_000_000}) is None
    assert store.version() == 3
    resumed = store.set_status("cmp-101", "active")
    assert resumed is not None and resumed.action == "resume"

    history = store.history("cmp-101")
    assert [c.action for c in history] == ["resume", "pause", "update", "seed"]
    # Type-2: each version's interval ends where the next begins; the newest is open.
    for newer, older in pairwise(history):
        assert older.valid_to == newer.valid_from
        assert older.valid_from < newer.valid_from
    assert history[0].valid_to is None
    assert history[-1].valid_from == EPOCH


def test_create_appends_and_refuses_a_duplicate(store: CampaignStore) -> None:
    change = store.create(new_campaign(), by="alice")
    assert change.action == "create" and change.before is None
    ids = [d["campaign_id"] for d in store.state().campaigns]
    assert ids[-1] == "cmp-900"
    with pytest.raises(CampaignConfigError, match="already in the book"):
        store.create(new_campaign())


def test_import_replace_deletes_what_the_file_lacks(store: CampaignStore) -> None:
    book = store.state().to_file()
    smaller = type(book)(book.currency, book.comment, book.campaigns[:2])
    changes = store.import_book(smaller, by="t", replace=True)
    assert {(c.campaign_id, c.action) for c in changes} == {
        ("cmp-103", "delete"),
        ("cmp-104", "delete"),
    }
    assert len({c.book_version for c in changes}) == 1  # one version for the whole import
    assert [d["campaign_id"] for d in store.state().campaigns] == ["cmp-101", "cmp-102"]
    deleted = store.history("cmp-103")
    assert deleted[0].after is None and deleted[1].valid_to == deleted[0].changed_at
    with pytest.raises(UnknownCampaign):
        store.get("cmp-103")


@pytest.mark.parametrize(
    ("patch", "field", "message"),
    [
        ({"goal": "cpm"}, "goal", r"campaign cmp-101\.goal: must be one of"),
        ({"daily_budget_micros": -5}, "daily_budget_micros", r"integer > 0, got -5"),
        ({"daily_budget_micros": "lots"}, "daily_budget_micros", r"got 'lots'"),
        ({"budget": 1}, "budget", r"\.budget: unknown field"),
        ({"targeting": {"hours": [25]}}, "targeting.hours[0]", r"UTC hour 0-23"),
        ({"targeting": {"country": ["US"]}}, "targeting.country", r"unknown field"),
        ({"creatives": []}, "creatives", r"non-empty list"),
        (
            {"creatives": [{"creative_id": "c", "width": 0, "height": 1, "format": "banner"}]},
            "creatives[0].width",
            r"creatives\[0\]\.width: must be an integer > 0",
        ),
        ({"status": "stopped"}, "status", r"status: must be one of"),
        ({"campaign_id": "other"}, "campaign_id", r"cannot change"),
    ],
)
def test_validation_names_the_field(
    store: CampaignStore, patch: dict, field: str, message: str
) -> None:
    with pytest.raises(CampaignConfigError, match=message) as info:
        store.update("cmp-101", patch)
    assert info.value.field == field
    assert store.version() == 1  # nothing written


def test_concurrent_writers_get_one_version_each(store: CampaignStore) -> None:
    errors: list[BaseException] = []

    def writer(campaign_id: str) -> None:
        try:
            with closing(CampaignStore()) as mine:
                for i in range(15):
                    mine.update(campaign_id, {"daily_budget_micros": 1_000_000 + i}, by=campaign_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(c,)) for c in ("cmp-101", "cmp-102")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.version() == 1 + 30
    versions = sorted(c.book_version for c in store.history() if c.action == "update")
    assert versions == list(range(2, 32))
    times = [c.changed_at for c in sorted(store.history(), key=lambda c: c.book_version)]
    assert times[len(store.state().campaigns) :] == sorted(set(times[4:]))  # strictly rising


def test_processes_starting_together_migrate_and_seed_once(home: Path) -> None:
    probe = (
        "from bidlake.campaign_book.store import CampaignStore\nprint(CampaignStore().version())\n"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", probe], cwd=REPO, stdout=subprocess.PIPE)
        for _ in range(3)
    ]
    outs = [r.communicate(timeout=120)[0].decode().strip() for r in runs]
    assert all(r.returncode == 0 for r in runs)
    assert outs == ["1", "1", "1"]
    with closing(CampaignStore()) as store:
        assert len(store.history()) == 4


# ---- migrations ----


def test_migrations_build_exactly_the_model(store: CampaignStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    store.ensure_ready()
    with store.engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        assert compare_metadata(context, Base.metadata) == []
    scripts = ScriptDirectory.from_config(migrate.config())
    assert scripts.get_current_head() == migrate.HEAD
    assert [s.revision for s in reversed(list(scripts.walk_revisions()))] == list(migrate.KNOWN)


def test_a_newer_schema_is_refused() -> None:
    with pytest.raises(migrate.SchemaError, match="upgrade bidlake"):
        migrate.check("9999")


# ---- the history export dbt reads ----


def test_history_export_has_every_version_with_its_interval(
    store: CampaignStore, tmp_path: Path
) -> None:
    store.update("cmp-101", {"daily_budget_micros": 800_000_000}, by="alice")
    path = store.export_history(tmp_path / "history.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    cmp101 = [line for line in lines if line["campaign_id"] == "cmp-101"]
    assert [(r["book_version"], r["daily_budget_micros"]) for r in cmp101] == [
        (1, 400_000_000),
        (2, 800_000_000),
    ]
    assert cmp101[0]["valid_from"] == "1970-01-01T00:00:00.000000Z"
    assert cmp101[0]["valid_to"] == cmp101[1]["valid_from"]
    assert cmp101[1]["valid_to"] is None
    assert cmp101[1]["status"] == "active" and cmp101[1]["currency"] == "USD"
    assert cmp101[1]["campaign"]["creatives"][0]["creative_id"] == "cr-101-300x250"
    datetime.fromisoformat(cmp101[1]["changed_at"].replace("Z", "+00:00"))


# ---- PostgreSQL: the same model ----


def test_the_same_book_on_postgresql(home: Path, tmp_path: Path) -> None:
    with postgres.running() as server, closing(CampaignStore(server.sqlalchemy_url)) as store:
        assert store.version() == 1
        assert store.state().to_file().to_json() == PACKAGED
        store.update("cmp-103", {"daily_budget_micros": 1}, by="pg")
        assert store.set_status("cmp-103", "paused") is not None
        assert store.version() == 3
        assert [c.action for c in store.history("cmp-103")] == ["pause", "update", "seed"]
        with store.engine.connect() as conn:
            from alembic.autogenerate import compare_metadata
            from alembic.runtime.migration import MigrationContext

            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            assert compare_metadata(context, Base.metadata) == []
            rows = conn.execute(select(HistoryRow.valid_to).where(HistoryRow.valid_to.is_(None)))
            assert len(rows.all()) == 4  # one open version per campaign
        lines = store.export_history(tmp_path / "h.jsonl").read_text().splitlines()
        assert len(lines) == 6
        assert not (home / "campaigns.sqlite3").exists()


# ---- the CLI ----


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["campaigns", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_list_update_pause_history(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "list")
    assert code == 0 and "cmp-101" in out and "book version 1" in out
    code, out, _ = run_cli(
        capsys,
        "update",
        "cmp-101",
        "--set",
        "daily_budget_micros=5e8",
        "--set",
        "name=2026 push",
        "--set",
        "targeting.hours=[8, 9]",
        "--by",
        "alice",
    )
    assert code == 0, out
    assert "v2" in out and "alice: update cmp-101" in out
    assert "daily_budget_micros: 400000000 -> 500000000" in out
    assert "name: Shoes - retargeting CPA -> 2026 push" in out
    code, out, _ = run_cli(capsys, "pause", "cmp-101", "--by", "bob", "--note", "review")
    assert code == 0 and "bob: pause cmp-101 - review" in out
    code, out, _ = run_cli(capsys, "pause", "cmp-101")
    assert code == 0 and "nothing to change" in out
    code, out, _ = run_cli(capsys, "history", "cmp-101", "--format", "json")
    history = json.loads(out)
    assert [h["action"] for h in history] == ["pause", "update", "seed"]
    assert history[0]["before"]["daily_budget_micros"] == 500_000_000
    code, out, _ = run_cli(capsys, "show", "cmp-101")
    assert json.loads(out)["status"] == "paused"
    code, out, _ = run_cli(capsys, "list", "--status", "paused", "--format", "json")
    assert [c["campaign_id"] for c in json.loads(out)] == ["cmp-101"]
    assert run_cli(capsys, "version")[1].strip() == "3"


def test_cli_errors_name_the_field_and_exit_2(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "update", "cmp-101", "--set", "goal=cpm")
    assert code == 2 and "cmp-101.goal: must be one of" in err
    code, _, err = run_cli(capsys, "create", "--json", json.dumps(new_campaign(goal_micros=0)))
    assert code == 2 and "campaign.goal_micros: must be an integer > 0" in err
    code, _, err = run_cli(capsys, "show", "cmp-nope")
    assert code == 1 and "no campaign 'cmp-nope'" in err
    code, _, err = run_cli(capsys, "update", "cmp-101")
    assert code == 2 and "nothing to change" in err


def test_cli_export_import_round_trip(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "export")
    assert code == 0 and out == PACKAGED
    edited = json.loads(out)
    edited["campaigns"][0]["daily_budget_micros"] = 1_000_000
    edited["campaigns"].append(new_campaign())
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(edited))
    code, out, _ = run_cli(capsys, "import", str(path), "--by", "ops")
    assert code == 0 and "ops: import cmp-101" in out and "ops: import cmp-900" in out
    code, out, _ = run_cli(capsys, "import", str(path))
    assert code == 0 and "already matches" in out
    target = tmp_path / "again.json"
    assert run_cli(capsys, "export", str(target))[0] == 0
    assert target.read_text() == read_book(path).to_json()
    code, out, _ = run_cli(capsys, "create", "--json", json.dumps(new_campaign("cmp-901")))
    assert code == 0 and "create cmp-901" in out


def test_cli_dbt_export_writes_the_file_dbt_reads(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "dbt-export")
    assert code == 0
    path = home / "campaign_book" / "history.jsonl"
    assert str(path) in out and len(path.read_text().splitlines()) == 4


def test_the_command_imports_no_heavy_part() -> None:
    code = (
        "import sys; from bidlake import cli; cli.build_parser('campaigns'); "
        "print(sorted(m for m in ('dagster', 'duckdb', 'sqlalchemy', 'alembic') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # SQLAlchemy only when a command runs


def test_change_times_are_utc(store: CampaignStore) -> None:
    change = store.update("cmp-104", {"frequency_cap_per_day": 3})
    assert change is not None and change.changed_at.tzinfo == UTC
    assert abs((datetime.now(UTC) - change.changed_at).total_seconds()) < 60
