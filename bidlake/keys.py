"""Deployment keys: the tracking-URL MAC key and the model-signing key.

A key comes from an environment variable when one is set (a fleet shares it that way, from
its secret store). Otherwise a key file in the data home is used, created on first use with
32 random bytes and mode 0600: every process on one host with the same `BIDLAKE_HOME` (the
bidder's workers, training and serving) shares it, and it survives restarts. Nothing about
a key is ever committed or printed; `describe()` says where a key came from, never what it is.

There is no built-in default key: a key anyone can read in the source would let anyone
mint win notices or publish models.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

MIN_KEY_BYTES = 32  # a shorter key is refused off loopback (bidder) and for signing


@dataclass(frozen=True)
class Key:
    secret: bytes
    source: str  # "env BIDLAKE_…" or "file <path>": where it came from, for start-up logs

    @property
    def key_id(self) -> str:
        """A short public id for rotation: which key signed a token or an artifact.

        A hash of the key under a fixed personalisation, so it reveals nothing usable about
        the key and needs no bookkeeping.
        """
        return hashlib.blake2b(self.secret, digest_size=4, person=b"bidlake-key-id").hexdigest()

    @property
    def strong(self) -> bool:
        return len(self.secret) >= MIN_KEY_BYTES

    def describe(self) -> str:
        strength = "" if self.strong else f", SHORT: under {MIN_KEY_BYTES} bytes"
        return f"key {self.key_id} from {self.source}{strength}"


def key_file(home_root: Path, name: str) -> Path:
    return home_root / "keys" / f"{name}.key"


def load_key(name: str, env_var: str, home_root: Path, *, create: bool = True) -> Key:
    """The key `name`: from `env_var` when set, else `<home>/keys/<name>.key`.

    With `create`, a missing key file is made (random, 0600, written atomically so that two
    processes starting together end with one key: the second one's rename loses to a
    link that already exists, and it reads the first one's key).
    """
    value = os.environ.get(env_var)
    if value:
        return Key(value.encode(), f"env {env_var}")
    path = key_file(home_root, name)
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"no {name} key: set {env_var} or create {path}")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_hex(MIN_KEY_BYTES).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)  # fails if another process created it first: keep theirs
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    secret = path.read_bytes().strip()
    if not secret:
        raise ValueError(f"{path} is empty: delete it to have a new key made, or set {env_var}")
    return Key(secret, f"file {path}")
