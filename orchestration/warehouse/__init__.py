"""The warehouse: every dbt model as an asset, the catalog publication, the reporting export.

`dbt_manifest.py` (the dbt project's manifest, re-parsed only when the project changed),
`assets.py` (`@dbt_assets`, its translator — keys, groups, which models are partitioned —
and `exports/reporting_postgres`), `build_lock.py` (the home's build lock, waited for),
`jobs.py` (`build_job`, `export_reporting_job`), `schedules.py` (daily build, reporting
export); `definitions.py` gathers them into this area's `defs`.

Not to be confused with the top-level package `warehouse` (the serving layer: build,
publish, catalog), which these assets call.
"""
