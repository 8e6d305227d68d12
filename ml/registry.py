"""The model registry on disk: versions, the CURRENT pointer, promotion history.

Layout (docs/interfaces.md), below `models_root` (default `<BIDLAKE_HOME>/models`):

    <name>/<version>/model.json       the artifact (ml/artifact.py)
    <name>/<version>/gate.json        the promotion verdict and its reason
    <name>/<version>/*.png, eval.json evaluation plots and metrics
    <name>/CURRENT                    text: the version the bidder serves
    <name>/history.jsonl              one line per export: version, promoted, reason

A version folder appears only complete (built as `.staging-<version>-<pid>`, then renamed)
and is never modified afterwards; CURRENT is replaced by an atomic rename of a fsynced
temp file (bidlake.atomic_files), so a bidder polling it reads either the old or the new
version, never a partial name. Pure Python: the bidder imports it.

Loading with a `key` (bidlake.keys.Key, ml.artifact.signing_key()) also verifies the
artifact's signature: what the bidder does, and what export does when it promotes.

A fleet (bidders on many hosts, `bidlake serve --state redis://…`) reads the promoted
version from Redis, not from CURRENT: `<prefix>:model:<name>:current` (`current_key`),
which `set_current` writes after CURRENT when `$BIDLAKE_MODELS_REDIS` names the fleet's
Redis (`$BIDLAKE_MODELS_REDIS_PREFIX`: its `--redis-prefix`, default `bidlake:bidder`).
One key every host polls switches them all within a poll interval plus a load, without
trusting a shared filesystem's caching for the pointer; the artifacts themselves are still
read from the models root (shared storage) and verified on every host (docs/scaling.md,
"A bidder fleet"). Only the version name is published: an artifact is immutable and signed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bidlake.atomic_files import atomic_write, fsync_dir
from bidlake.keys import Key
from bidlake.paths import home
from bidlake.redact import redact_url
from ml.scorer import ScoringModel, load_model

MODEL_FILE = "model.json"
GATE_FILE = "gate.json"
CURRENT_FILE = "CURRENT"
HISTORY_FILE = "history.jsonl"
_VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,99}$")
REDIS_ENV = "BIDLAKE_MODELS_REDIS"  # redis:// URL: promotion publishes the version there too
REDIS_PREFIX_ENV = "BIDLAKE_MODELS_REDIS_PREFIX"
DEFAULT_REDIS_PREFIX = "bidlake:bidder"  # the bidder's default --redis-prefix
PUBLISH_TIMEOUT_S = 5.0


class RegistryError(LookupError):
    """No such model or version, or an invalid name."""


class MissingVersion(RegistryError):
    """The version's artifact is not (or not yet) under the models root."""


class PublishError(RuntimeError):
    """CURRENT moved, but the version could not be published to the fleet's Redis."""


def _root(models_root: Path | str | None) -> Path:
    return Path(models_root) if models_root is not None else home().models


def _check(name: str, version: str | None = None) -> None:
    if not _VERSION_RE.match(name):
        raise RegistryError(f"invalid model name {name!r}")
    if version is not None and not _VERSION_RE.match(version):
        raise RegistryError(f"invalid model version {version!r}")


def new_version(created_at_ms: int, checksum: str) -> str:
    """`YYYYMMDDTHHMMSSZ-<8 hex of the checksum>`: sorts by time, unique per content."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created_at_ms / 1000))
    return f"{stamp}-{checksum.removeprefix('sha256:')[:8]}"


def version_dir(name: str, version: str, models_root: Path | str | None = None) -> Path:
    _check(name, version)
    return _root(models_root) / name / version


def model_path(name: str, version: str, models_root: Path | str | None = None) -> Path:
    return version_dir(name, version, models_root) / MODEL_FILE


def current_version(name: str, models_root: Path | str | None = None) -> str | None:
    """The version CURRENT points at, or None when no model was promoted yet."""
    _check(name)
    try:
        text = (_root(models_root) / name / CURRENT_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return text or None


def load_version(
    name: str, version: str, models_root: Path | str | None = None, key: Key | None = None
) -> ScoringModel:
    """A version's model, verified (with `key`: its signature too); ArtifactError if not."""
    path = model_path(name, version, models_root)
    if not path.exists():
        raise MissingVersion(f"model {name!r} has no version {version!r} ({path})")
    return load_model(path, key)


def load_current(
    name: str, models_root: Path | str | None = None, key: Key | None = None
) -> ScoringModel:
    """The promoted model, verified; RegistryError when there is none."""
    version = current_version(name, models_root)
    if version is None:
        raise RegistryError(f"no current {name!r} model under {_root(models_root) / name}")
    return load_version(name, version, models_root, key)


@contextmanager
def staging(name: str, version: str, models_root: Path | str | None = None) -> Iterator[Path]:
    """A folder to write a new version into; renamed to `<name>/<version>` on success,
    removed on error. Refuses to overwrite an existing version (versions are immutable)."""
    final = version_dir(name, version, models_root)
    if final.exists():
        raise RegistryError(f"model {name!r} version {version!r} already exists ({final})")
    temp = final.with_name(f".staging-{version}-{os.getpid()}")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    try:
        yield temp
        for entry in temp.iterdir():
            _fsync_file(entry)
        os.rename(temp, final)
        fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def set_current(
    name: str,
    version: str,
    models_root: Path | str | None = None,
    key: Key | None = None,
    *,
    redis_url: str | None = None,
    redis_prefix: str | None = None,
) -> None:
    """Point CURRENT at `version` after verifying its artifact loads (with `key`: that it
    is signed with it) (atomic rename); then publish it to a fleet's Redis when one is
    configured (`redis_url`, default $BIDLAKE_MODELS_REDIS; "" publishes nothing).

    PublishError when the publication fails: CURRENT has moved but the fleet has not, and
    calling this again (it is idempotent) finishes the promotion."""
    load_version(name, version, models_root, key)  # refuses a missing or corrupt model
    atomic_write(_root(models_root) / name / CURRENT_FILE, version + "\n")
    url = os.environ.get(REDIS_ENV, "") if redis_url is None else redis_url
    if url:
        prefix = redis_prefix or os.environ.get(REDIS_PREFIX_ENV) or DEFAULT_REDIS_PREFIX
        publish_current(name, version, url, prefix)


def current_key(name: str, prefix: str = DEFAULT_REDIS_PREFIX) -> str:
    """The Redis key a fleet's bidders follow for model `name`'s promoted version."""
    _check(name)
    return f"{prefix}:model:{name}:current"


def publish_current(name: str, version: str, redis_url: str, prefix: str) -> None:
    """Set the fleet's pointer (`current_key`) to `version` (the caller has verified it)."""
    _check(name, version)
    import redis  # only a promotion that publishes pays for the import

    client = redis.Redis.from_url(
        redis_url, socket_timeout=PUBLISH_TIMEOUT_S, socket_connect_timeout=PUBLISH_TIMEOUT_S
    )
    try:
        client.set(current_key(name, prefix), version)
    except redis.RedisError as exc:
        raise PublishError(
            f"CURRENT of {name!r} is {version!r}, but publishing it to {redact_url(redis_url)} "
            f"failed ({exc}); the fleet still serves the previous version: promote again"
        ) from exc
    finally:
        client.close()


def append_history(name: str, entry: dict[str, Any], models_root: Path | str | None = None) -> None:
    """One JSON line per export decision (promoted or not), for people and dashboards."""
    folder = _root(models_root) / name
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / HISTORY_FILE, "a") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_file(path: Path) -> None:
    if path.is_file():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
