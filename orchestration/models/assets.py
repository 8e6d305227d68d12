"""The CTR and CVR models: train, evaluate, gate, export — and the artifact the bidder serves.

Per model (`ctr` from `ftr_ctr_training`, `cvr` from `ftr_cvr_training`) one step calls
`ml.export.train_and_export`, which trains on the earlier days, evaluates on the last day
(beside the simulator's oracle where its truth exists), writes a new registry version
(artifact, eval.json, gate.json, plots) and moves `CURRENT` only if the quality gate
accepts it. The step materializes two assets, because they change at different times:

- `models/<name>`: the newest trained and evaluated version — every run;
- `models/<name>_artifact`: the JSON artifact the bidder loads (`CURRENT`) — only when
  the gate promotes the new version. Its materialization history *is* the promotion
  history, and the replay (and any bidder) reads it.

The gate's verdict is also an asset check on `models/<name>` (`quality_gate`): passed
when promoted; a rejection is a WARN (the bidder keeps the previous, better model — the
platform is healthy, the new model is not), with the reason and both log losses. Too
little data to train is a step failure for CTR (the bidder cannot bid without it) and a
WARN for CVR, whose labels need 7 days of hindsight (see `REQUIRED`).

Models are not partitioned: a model is trained from every available day of its mart.
"""

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from orchestration import pools
from orchestration.resources import PlatformResource

# model name -> the asset key of the dbt feature mart it learns from (dagster-dbt's key:
# the model's schema, then its name; tests/orchestration check that the dbt assets have it)
MARTS = {
    "ctr": AssetKey(["features", "ftr_ctr_training"]),
    "cvr": AssetKey(["features", "ftr_cvr_training"]),
}
# Models the bidder cannot bid without. CTR labels are known minutes after an impression;
# CVR labels mature only after the 7-day attribution window, so a platform younger than
# that has no CVR training data — normal at start-up, not an error: CPA campaigns no-bid
# until a CVR model exists (CPC campaigns need only CTR).
REQUIRED = {"ctr"}
GROUP = "models"
GATE_CHECK = "quality_gate"


def model_key(name: str) -> AssetKey:
    return AssetKey(["models", name])


def artifact_key(name: str) -> AssetKey:
    return AssetKey(["models", f"{name}_artifact"])


def _metric_metadata(prefix: str, metrics: dict[str, Any] | None) -> dict[str, Any]:
    if not metrics:
        return {}
    keys = ("auc", "log_loss", "normalized_entropy", "calibration", "brier", "rows", "positives")
    return {f"{prefix}_{k}": metrics[k] for k in keys if metrics.get(k) is not None}


def build_model_assets(name: str, mart_key: AssetKey) -> AssetsDefinition:
    """The multi-asset training, gating and exporting model `name`."""

    @multi_asset(
        name=f"train_{name}_model",
        specs=[
            AssetSpec(
                model_key(name),
                deps=[mart_key],
                group_name=GROUP,
                skippable=name not in REQUIRED,
                description=f"The newest trained and evaluated {name.upper()} model version.",
                kinds={"scikitlearn"},
            ),
            AssetSpec(
                artifact_key(name),
                deps=[model_key(name)],
                group_name=GROUP,
                skippable=True,
                description=f"The {name.upper()} JSON artifact the bidder serves (CURRENT); "
                "changes only when the quality gate promotes a new version.",
                kinds={"json"},
            ),
        ],
        check_specs=[
            AssetCheckSpec(
                GATE_CHECK,
                asset=model_key(name),
                description="The new version's holdout log loss is not worse than the "
                "current model's on the same rows (beyond the tolerance).",
            )
        ],
        can_subset=False,
        pool=pools.MODELS,
    )
    def train_model(context: AssetExecutionContext, platform: PlatformResource) -> Iterator[Any]:
        """Train, evaluate, gate and export one model.

        Grain: one model version per run. Inputs: the feature mart (through the published
        read-only catalog, never the warehouse file), the simulator's truth when present.
        Cost: reading the mart and a small grid of logistic regressions — about a minute
        for a few million rows on this machine; writes one registry version folder.
        """
        from ml.data import DataError
        from ml.export import train_and_export

        home = platform.home
        truth = home.truth if home.truth.is_dir() else None
        try:
            result = train_and_export(
                name, models_root=home.models, truth_dir=truth, progress=context.log.info
            )
        except DataError as exc:
            if name in REQUIRED:
                raise Failure(
                    description=f"{name}: not enough usable training data: {exc}",
                    metadata={"mart": MetadataValue.text(mart_key.to_user_string())},
                ) from exc
            context.log.warning(f"{name}: not trained, keeping the current model: {exc}")
            yield AssetCheckResult(
                asset_key=model_key(name),
                check_name=GATE_CHECK,
                passed=False,
                severity=AssetCheckSeverity.WARN,
                description=f"not trained: {exc}",
            )
            return
        gate = result.gate
        metadata: dict[str, Any] = {
            "version": result.version,
            "path": MetadataValue.path(str(result.path)),
            "promoted": result.promoted,
            "gate_reason": result.reason,
            "rows_read": result.rows_read,
            "rows_fitted": result.rows_fitted,
            "regularization_C": result.chosen_C,
            "training_window": MetadataValue.json(result.window),
            **_metric_metadata("holdout", result.model_metrics),
            **_metric_metadata("oracle", result.oracle_metrics),
        }
        for plot in result.plots:
            metadata[f"plot_{plot.stem}"] = MetadataValue.path(str(plot))
        yield MaterializeResult(asset_key=model_key(name), metadata=metadata)
        yield AssetCheckResult(
            asset_key=model_key(name),
            check_name=GATE_CHECK,
            passed=result.promoted,
            severity=AssetCheckSeverity.WARN,
            description=result.reason,
            metadata={
                "new_log_loss": gate.new_log_loss,
                "current_version": gate.current_version or "",
                "current_log_loss": gate.current_log_loss
                if gate.current_log_loss is not None
                else float("nan"),
                "tolerance": gate.tolerance,
            },
        )
        if result.promoted:
            yield MaterializeResult(
                asset_key=artifact_key(name),
                metadata={
                    "version": result.version,
                    "path": MetadataValue.path(str(result.path)),
                    "current_pointer": MetadataValue.path(str(home.models / name / "CURRENT")),
                },
            )

    return train_model


train_ctr_model = build_model_assets("ctr", MARTS["ctr"])
train_cvr_model = build_model_assets("cvr", MARTS["cvr"])
MODEL_ASSETS = [train_ctr_model, train_cvr_model]
