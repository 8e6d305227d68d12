"""The bidder loads only models the platform's training signed (issue 11, "Trust").

A checksum only catches accidents: whoever can write the registry can recompute it. The
artifact is signed (HMAC-SHA256) with the deployment's model-signing key; the bidder refuses
an unsigned, foreign-signed or edited-after-signing artifact like a corrupt one — the
reason in /readyz, the previous model still serving."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from bidder.app import BidderApp, create_app
from bidder.models import Models
from bidder.settings import Settings
from bidlake.keys import Key
from ml import registry
from ml.artifact import SIGNING_KEY_ENV, ArtifactError, canonical_json, seal, signing_key
from tests.bidder.conftest import CTR_LOGIT, write_model
from tests.bidder.test_cases import BOOK
from tests.bidder.test_service import NOON, request
from tests.support.polling import eventually

FOREIGN = Key(b"f" * 32, "a test's foreign key")


@pytest.fixture
def app(settings: Settings) -> BidderApp:
    return create_app(settings.with_overrides(campaigns=str(BOOK)), clock=lambda: NOON)


@pytest.fixture
def client(app: BidderApp) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def promote(models_root: Path, version: str) -> None:
    """Point CURRENT at `version` without the registry's checks (a deploy script, or an
    attacker with write access to the registry)."""
    (models_root / "ctr" / registry.CURRENT_FILE).write_text(version + "\n")


def refused(client: TestClient, version: str) -> str:
    """The ctr slot's load error once `version` was refused; the old model still serves."""

    def probe() -> dict[str, Any]:
        ready: dict[str, Any] = client.get("/readyz").json()
        assert version in (ready["models"]["ctr"]["error"] or ""), ready
        return ready

    ready = eventually(probe, timeout=10, interval=0.02, what=f"{version} refused")
    assert ready["ready"] is True
    assert ready["models"]["ctr"]["version"] == "ctr-v1"
    body = orjson.dumps({**request("r1"), "tmax": 5_000})  # no timeout on a loaded box
    assert client.post("/openrtb2/bid", content=body).status_code == 200
    error: str = ready["models"]["ctr"]["error"]
    return error


def test_a_signed_model_is_served(client: TestClient, models_root: Path) -> None:
    path = write_model(models_root, "ctr", "ctr-v2", CTR_LOGIT + 1, promote=False)
    signature = orjson.loads(path.read_bytes())["signature"]
    assert signature["alg"] == "hmac-sha256"
    assert signature["key_id"] == signing_key().key_id
    promote(models_root, "ctr-v2")
    eventually(
        lambda: client.get("/readyz").json()["models"]["ctr"]["version"] == "ctr-v2",
        timeout=10,
        interval=0.02,
        what="ctr-v2 served",
    )


def test_an_unsigned_model_is_refused(client: TestClient, models_root: Path) -> None:
    write_model(models_root, "ctr", "ctr-unsigned", CTR_LOGIT, promote=False, sign=False)
    promote(models_root, "ctr-unsigned")
    assert "not signed" in refused(client, "ctr-unsigned")


def test_a_model_signed_with_another_key_is_refused(client: TestClient, models_root: Path) -> None:
    write_model(models_root, "ctr", "ctr-foreign", CTR_LOGIT, promote=False, key=FOREIGN)
    promote(models_root, "ctr-foreign")
    error = refused(client, "ctr-foreign")
    assert f"signed with key {FOREIGN.key_id!r}" in error
    assert signing_key().key_id in error
    assert SIGNING_KEY_ENV in error  # says how to fix it


def test_a_model_edited_after_signing_is_refused_even_with_a_fresh_checksum(
    client: TestClient, models_root: Path
) -> None:
    path = write_model(models_root, "ctr", "ctr-edited", CTR_LOGIT, promote=False)
    doc = orjson.loads(path.read_bytes())
    doc["model"]["intercept"] = 5.0  # pCTR 99 %: every campaign at its max bid
    # Recomputing the checksum takes no key (seal without one keeps the old signature
    # field out of the checksum, as the format says); only the MAC holds.
    resealed = {**seal(doc), "signature": doc["signature"]}
    path.write_bytes(canonical_json(resealed))
    promote(models_root, "ctr-edited")
    assert "signature does not verify" in refused(client, "ctr-edited")


def test_a_bidder_whose_only_model_is_unsigned_is_not_ready(settings: Settings, home: Path) -> None:
    root = home / "unsigned-models"
    write_model(root, "ctr", "ctr-v1", CTR_LOGIT, sign=False)
    app = create_app(settings.with_overrides(models_root=str(root), campaigns=str(BOOK)))
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "not signed" in ready.json()["models"]["ctr"]["error"]
        response = client.post("/openrtb2/bid", content=orjson.dumps(request("r1")))
        assert response.headers["x-bidlake-no-bid"] == "no_model"


def test_the_key_can_come_from_the_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fleet sets BIDLAKE_MODEL_SIGNING_KEY on training and bidder hosts alike."""
    monkeypatch.setenv(SIGNING_KEY_ENV, "k" * 40)
    root = home / "env-models"
    write_model(root, "ctr", "ctr-v1", CTR_LOGIT)
    models = Models.open(root)
    assert models.ctr.version == "ctr-v1", models.ctr.last_error
    assert not (home / "keys").exists()  # the environment won: no key file made
    monkeypatch.setenv(SIGNING_KEY_ENV, "short")
    with pytest.raises(ArtifactError, match="at least 32 bytes"):
        Models.open(root)
