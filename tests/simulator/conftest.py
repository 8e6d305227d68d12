"""A small world shared by the simulator tests (the default one has a million users)."""

from __future__ import annotations

import pytest

from simulator.world import World, WorldConfig, build_world

SMALL = WorldConfig(n_publishers=800, n_users=40_000)


@pytest.fixture(scope="session")
def small_world() -> World:
    return build_world(11, SMALL)
