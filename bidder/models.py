"""The CTR and CVR models the bidder prices with, and their hot reload.

A `ModelSlot` holds one model (`ctr` or `cvr`) and either follows the registry's CURRENT
pointer or stays pinned to one version. `poll()` runs off the hot path (a background task
every `model_poll_s`): when CURRENT names a version other than the loaded one, the new
artifact is read and verified in a worker thread (ml.artifact: checksum, schema, bounds,
and its signature under the deployment's model-signing key) and then swapped in with one
reference assignment. A request reads `slot.model` once at its start and prices with that
object to the end, so a swap never fails or mixes a request; the old model is garbage once
the last request holding it is done.

A version that fails to load is remembered and not retried until the pointer changes
again — the bidder keeps serving the model it has, logs the error once and counts it in
/metrics, and /readyz shows the slot's `wanted` version beside the one it serves, with the
`error`. A version whose artifact is *missing* is the exception: it is looked for again at
every poll (a fleet's shared storage may show a new folder to one host later than to
another), and counted once.

Where the wanted version comes from (a `Pointer`): the CURRENT file (`FilePointer`, one
host), or, for a fleet (`--state redis://…`, setting `model_pointer` auto), the Redis key
`<redis-prefix>:model:<name>:current` that promotion publishes (`RedisPointer`, ml.registry
`set_current` with $BIDLAKE_MODELS_REDIS), falling back to CURRENT while nothing was
published. Every host polls the same key, so a promotion reaches the whole fleet within
`model_poll_s` plus the time to load the artifact (docs/scaling.md, "A bidder fleet").

Only models signed by the platform's training are loaded: the key is
`ml.artifact.signing_key()` ($BIDLAKE_MODEL_SIGNING_KEY, else `<BIDLAKE_HOME>/keys/
model-signing.key`, the file training uses on the same home), resolved once at start-up
(no usable key: start-up fails). An unsigned artifact, one signed with another key, or one
changed after signing fails to load like a corrupt one: /readyz shows why, in the slot's
`error`, and the previous model keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from bidlake.keys import Key
from ml import registry
from ml.artifact import ArtifactError, signing_key
from ml.scorer import ScoringModel

log = logging.getLogger("bidder.models")
POINTER_TIMEOUT_S = 1.0  # a Redis read of the pointer; a slow one only delays a switch


class Pointer:
    """Where a slot reads the version it should serve."""

    def current(self, name: str) -> str | None:
        """The promoted version of `name` (None: nothing promoted yet)."""
        raise NotImplementedError

    def describe(self, name: str) -> str:
        raise NotImplementedError

    def close(self) -> None:
        return None


@dataclass
class FilePointer(Pointer):
    """`<models_root>/<name>/CURRENT`: one host, or hosts that trust a shared file."""

    models_root: Path

    def current(self, name: str) -> str | None:
        return registry.current_version(name, self.models_root)

    def describe(self, name: str) -> str:
        return f"file {name}/{registry.CURRENT_FILE}"


class RedisPointer(Pointer):
    """The fleet's pointer: `registry.current_key(name, prefix)` in Redis, read with a
    synchronous client (from a worker thread, off the event loop); the CURRENT file while
    the key does not exist (a fleet whose promotions never published yet)."""

    def __init__(self, url: str, prefix: str, models_root: Path) -> None:
        import redis  # only a fleet pays for the import

        self.prefix = prefix
        self.file = FilePointer(models_root)
        self.client = redis.Redis.from_url(
            url, socket_timeout=POINTER_TIMEOUT_S, socket_connect_timeout=POINTER_TIMEOUT_S
        )

    def current(self, name: str) -> str | None:
        value = self.client.get(registry.current_key(name, self.prefix))
        if value is None:
            return self.file.current(name)
        return bytes(value).decode("ascii", "replace").strip() or None

    def describe(self, name: str) -> str:
        return f"redis {registry.current_key(name, self.prefix)} (else {self.file.describe(name)})"

    def close(self) -> None:
        self.client.close()


@dataclass
class ModelSlot:
    name: str
    models_root: Path
    pinned: str = ""  # a version to serve forever; "" follows the pointer
    model: ScoringModel | None = None
    reloads: int = 0  # successful swaps after the first load
    failures: int = 0
    last_error: str = ""
    key: Key | None = field(default=None, repr=False)  # verifies signatures; None loads nothing
    pointer: Pointer | None = field(default=None, repr=False)  # None: the CURRENT file
    wanted_version: str = ""  # what the pointer named at the last poll
    _failed_version: str = field(default="", repr=False)
    _missing: bool = field(default=False, repr=False)  # the failed version's artifact is absent

    def __post_init__(self) -> None:
        if self.pointer is None:
            self.pointer = FilePointer(self.models_root)

    @property
    def version(self) -> str:
        return self.model.version if self.model is not None else ""

    @property
    def source(self) -> str:
        """Where the wanted version comes from, for /readyz."""
        assert self.pointer is not None
        return "pinned" if self.pinned else self.pointer.describe(self.name)

    def wanted(self) -> str | None:
        """The version this slot should serve now (None: nothing promoted yet)."""
        if self.pinned:
            return self.pinned
        assert self.pointer is not None
        return self.pointer.current(self.name)

    def _load(self, version: str) -> ScoringModel:
        if self.key is None:  # fail closed: never an unverified model
            raise ArtifactError("no model-signing key to verify models with")
        return registry.load_version(self.name, version, self.models_root, self.key)

    def _to_load(self, version: str | None) -> str | None:
        """The version to load now, given what the pointer names (None: nothing to do)."""
        self.wanted_version = version or ""
        if version is None:
            return None
        if version == self.version:  # following the pointer (again, after a rollback)
            self._failed_version, self._missing, self.last_error = "", False, ""
            return None
        if version == self._failed_version and not self._missing:
            return None  # refused once; only a new promotion is tried
        return version

    async def poll(self) -> bool:
        """Load the wanted version if it is new; True when the model changed."""
        try:
            wanted = await asyncio.to_thread(self.wanted)  # a file or a Redis read: off the loop
        except Exception as exc:  # OSError, RegistryError, a Redis error: keep serving
            return self._failed("", f"cannot read {self.source}: {exc}")
        version = self._to_load(wanted)
        if version is None:
            return False
        try:
            model = await asyncio.to_thread(self._load, version)
        except Exception as exc:  # a corrupt artifact must not take the bidder down
            return self._failed(version, str(exc), isinstance(exc, registry.MissingVersion))
        had = self.model is not None
        self.model = model  # the atomic swap: one reference assignment
        self._failed_version, self._missing, self.last_error = "", False, ""
        if had:
            self.reloads += 1
        log.info("model %s: serving version %s", self.name, version)
        return True

    def load_now(self) -> bool:
        """Synchronous first load at start-up (no event loop needed)."""
        try:
            version = self._to_load(self.wanted())
        except Exception as exc:
            return self._failed("", f"cannot read {self.source}: {exc}")
        if version is None:
            return False
        try:
            self.model = self._load(version)
        except Exception as exc:
            return self._failed(version, str(exc), isinstance(exc, registry.MissingVersion))
        return True

    def _failed(self, version: str, error: str, missing: bool = False) -> bool:
        if version == self._failed_version and error == self.last_error:
            return False  # the same failure again (a missing artifact, Redis away): once
        self.failures += 1
        self._failed_version, self._missing = version, missing
        self.last_error = error
        log.error("model %s: cannot load %s: %s", self.name, version or "(pointer)", error)
        return False


@dataclass
class Models:
    ctr: ModelSlot
    cvr: ModelSlot

    @classmethod
    def open(
        cls,
        models_root: Path,
        ctr_version: str = "",
        cvr_version: str = "",
        key: Key | None = None,
        pointer: Pointer | None = None,
    ) -> Models:
        """Both slots, first versions loaded; `key` verifies signatures (default: the
        deployment's model-signing key; ArtifactError when there is no usable one);
        `pointer` names the versions to serve (default: the CURRENT files)."""
        key = key if key is not None else signing_key()
        log.info("models are verified with model-signing %s", key.describe())
        pointer = pointer if pointer is not None else FilePointer(models_root)
        models = cls(
            ctr=ModelSlot("ctr", models_root, ctr_version, key=key, pointer=pointer),
            cvr=ModelSlot("cvr", models_root, cvr_version, key=key, pointer=pointer),
        )
        models.ctr.load_now()
        models.cvr.load_now()
        return models

    def close(self) -> None:
        """Release the pointer's connection (a Redis client)."""
        pointers = {id(s.pointer): s.pointer for s in self.slots if s.pointer is not None}
        for pointer in pointers.values():
            pointer.close()

    @property
    def slots(self) -> tuple[ModelSlot, ModelSlot]:
        return self.ctr, self.cvr

    @property
    def ready(self) -> bool:
        """Bids need at least the CTR model (CPC campaigns price with it alone)."""
        return self.ctr.model is not None

    async def poll(self) -> None:
        for slot in self.slots:
            await slot.poll()
