"""The CTR and CVR models the bidder prices with, and their hot reload.

A `ModelSlot` holds one model (`ctr` or `cvr`) and either follows the registry's CURRENT
pointer or stays pinned to one version. `poll()` runs off the hot path (a background task
every `model_poll_s`): when CURRENT names a version other than the loaded one, the new
artifact is read and verified in a worker thread (ml.artifact: checksum, schema, bounds,
and its signature under the deployment's model-signing key) and then swapped in with one
reference assignment. A request reads `slot.model` once at its start and prices with that
object to the end, so a swap never fails or mixes a request; the old model is garbage once
the last request holding it is done.

A version that fails to load is remembered and not retried until CURRENT changes again —
the bidder keeps serving the model it has, logs the error and counts it in /metrics.

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


@dataclass
class ModelSlot:
    name: str
    models_root: Path
    pinned: str = ""  # a version to serve forever; "" follows CURRENT
    model: ScoringModel | None = None
    reloads: int = 0  # successful swaps after the first load
    failures: int = 0
    last_error: str = ""
    key: Key | None = field(default=None, repr=False)  # verifies signatures; None loads nothing
    _failed_version: str = field(default="", repr=False)

    @property
    def version(self) -> str:
        return self.model.version if self.model is not None else ""

    def wanted(self) -> str | None:
        """The version this slot should serve now (None: nothing promoted yet)."""
        if self.pinned:
            return self.pinned
        return registry.current_version(self.name, self.models_root)

    def _load(self, version: str) -> ScoringModel:
        if self.key is None:  # fail closed: never an unverified model
            raise ArtifactError("no model-signing key to verify models with")
        return registry.load_version(self.name, version, self.models_root, self.key)

    async def poll(self) -> bool:
        """Load the wanted version if it is new; True when the model changed."""
        try:
            version = self.wanted()
        except (OSError, registry.RegistryError) as exc:
            return self._failed("", f"cannot read CURRENT: {exc}")
        if version is None or version == self.version or version == self._failed_version:
            return False
        try:
            model = await asyncio.to_thread(self._load, version)
        except Exception as exc:  # a corrupt artifact must not take the bidder down
            return self._failed(version, str(exc))
        had = self.model is not None
        self.model = model  # the atomic swap: one reference assignment
        self._failed_version = ""
        self.last_error = ""
        if had:
            self.reloads += 1
        log.info("model %s: serving version %s", self.name, version)
        return True

    def load_now(self) -> bool:
        """Synchronous first load at start-up (no event loop needed)."""
        try:
            version = self.wanted()
            if version is None:
                return False
            self.model = self._load(version)
            return True
        except Exception as exc:
            self._failed("", str(exc))
            return False

    def _failed(self, version: str, error: str) -> bool:
        self.failures += 1
        self._failed_version = version
        self.last_error = error
        log.error("model %s: cannot load %s: %s", self.name, version or "(CURRENT)", error)
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
    ) -> Models:
        """Both slots, first versions loaded; `key` verifies signatures (default: the
        deployment's model-signing key; ArtifactError when there is no usable one)."""
        key = key if key is not None else signing_key()
        log.info("models are verified with model-signing %s", key.describe())
        models = cls(
            ctr=ModelSlot("ctr", models_root, ctr_version, key=key),
            cvr=ModelSlot("cvr", models_root, cvr_version, key=key),
        )
        models.ctr.load_now()
        models.cvr.load_now()
        return models

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
