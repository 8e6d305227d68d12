"""Resources: the platform's settings, read from the environment when a run starts.

Nothing here reads the environment at import time: the code location is imported once by
the webserver and reused for many runs, and a test points BIDLAKE_HOME elsewhere after
importing. `PlatformResource.setup_for_execution` runs at the start of each run (in the run
worker's process), so each run sees the environment it was started with.

| setting | field | environment | default |
|---|---|---|---|
| data home | `home_dir` | `BIDLAKE_HOME` | `./data` |
| dbt target | `dbt_target` | `BIDLAKE_DBT_TARGET` | the profile's default target |
| reporting database | `reporting_url` | `BIDLAKE_REPORTING_URL` | none: export skipped |

Dagster's own storage is not a resource: it is the instance (`orchestration.instance`).
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from bidlake.paths import Home, home

DBT_TARGET_ENV = "BIDLAKE_DBT_TARGET"
REPORTING_URL_ENV = "BIDLAKE_REPORTING_URL"


class PlatformResource(ConfigurableResource):
    """Where the data lives and which external systems a run talks to.

    Empty fields mean "take it from the environment when the run starts".
    """

    home_dir: str = Field(default="", description="Data home; empty: BIDLAKE_HOME at run start.")
    dbt_target: str = Field(default="", description=f"dbt target; empty: {DBT_TARGET_ENV}.")
    reporting_url: str = Field(
        default="",
        description=f"SQLAlchemy URL for the reporting export; empty: {REPORTING_URL_ENV}.",
    )

    _home: Home | None = PrivateAttr(default=None)
    _dbt_target: str | None = PrivateAttr(default=None)
    _reporting_url: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._home = Home(Path(self.home_dir).expanduser().resolve()) if self.home_dir else home()
        self._dbt_target = self.dbt_target or os.environ.get(DBT_TARGET_ENV) or None
        self._reporting_url = self.reporting_url or os.environ.get(REPORTING_URL_ENV) or None

    @property
    def home(self) -> Home:
        if self._home is None:  # used outside a run (direct asset invocation in a test)
            return Home(Path(self.home_dir).expanduser().resolve()) if self.home_dir else home()
        return self._home

    @property
    def target(self) -> str | None:
        """The dbt target for this run, or None for the profile's default."""
        if self._home is None:
            return self.dbt_target or os.environ.get(DBT_TARGET_ENV) or None
        return self._dbt_target

    @property
    def reporting(self) -> str | None:
        """The reporting database URL for this run, or None when not configured."""
        if self._home is None:
            return self.reporting_url or os.environ.get(REPORTING_URL_ENV) or None
        return self._reporting_url
