"""The source assets and their checks, materialized through Dagster's own APIs on a real instance."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.lake.io_manager import LakeParquetIOManager, read_frame
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.defs.sources.assets import SOURCE_ASSETS
from smartmeter_assets.defs.sources.checks import SOURCE_CHECKS
from smartmeter_assets.defs.sources.resources import SourceFilesResource
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.sample_data.generator import SampleSpec, generate
from smartmeter_assets.settings import Settings
from smartmeter_assets.sources.staging import staged_days


def resources(data_dir: Path, lake_root: Path) -> dict[str, object]:
    return {
        "io_manager": LakeParquetIOManager(url=str(lake_root)),
        "lake": LakeResource(url=str(lake_root)),
        "sources": SourceFilesResource(data_dir=str(data_dir)),
    }


def check_results(result) -> dict[tuple[str, str], bool]:
    return {
        (evaluation.asset_key.to_user_string(), evaluation.check_name): evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data")
    generate(out, SampleSpec(households=12, days=14))
    return out


def test_sources_materialize_with_metadata_and_every_check_passes(sample_dir: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    settings = Settings(home=tmp_path, data_dir=sample_dir, lake_url=str(lake))
    defs = build_definitions(settings)
    with DagsterInstance.ephemeral() as instance:
        result = (
            defs.resolve_implicit_global_asset_job_def()
            .get_subset(
                asset_selection={AssetKey(a.key.path) for a in SOURCE_ASSETS},
                asset_check_selection={c for checks in SOURCE_CHECKS for c in checks.check_keys},
            )
            .execute_in_process(instance=instance, resources=None)
        )
        assert result.success
        checks = check_results(result)
        assert len(checks) == 16 and all(checks.values()), checks

        readings = instance.get_latest_materialization_event(AssetKey("readings"))
        metadata = readings.asset_materialization.metadata  # type: ignore[union-attr]
        rows_read = metadata["rows_read"].value
        assert rows_read == metadata["dagster/row_count"].value + metadata["rejected_rows"].value + (
            metadata["duplicates_dropped"].value
        )
        assert metadata["rejects_by_reason"].value.get("energy_null", 0) > 0
        assert metadata["first"].value.startswith("2013-01-07")

        households = instance.get_latest_materialization_event(AssetKey("households"))
        assert households.asset_materialization.metadata["dagster/row_count"].value == 12  # type: ignore[union-attr]

    stored = read_frame(Lake(str(lake)), "households")
    assert len(stored) == 12 and not (lake / "sources" / "households.pickle").exists()
    assert len(staged_days(Lake(str(lake)))) == 14


def test_checks_fail_on_sources_that_break_the_contract(sample_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "data"
    shutil.copytree(sample_dir, broken)
    hourly = pd.read_csv(broken / "weather_hourly_darksky.csv", dtype=str, keep_default_na=False)
    hourly.loc[:5, "humidity"] = "7.5"  # humidity is a fraction
    hourly.loc[:, "temperature"] = ""  # no temperature at all
    hourly.to_csv(broken / "weather_hourly_darksky.csv", index=False)

    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [*SOURCE_ASSETS[:3], *SOURCE_CHECKS[:3]],
            resources=resources(broken, tmp_path / "lake"),
            instance=instance,
            raise_on_error=False,
        )
    checks = check_results(result)
    assert checks[("weather_hourly", "value_ranges")] is False
    assert checks[("weather_hourly", "null_rates")] is False
    assert checks[("weather_hourly", "unique_key")] is True
    assert checks[("households", "schema")] is True


def test_a_missing_source_fails_the_materialization_clearly(tmp_path: Path) -> None:
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [SOURCE_ASSETS[3]],
            resources=resources(tmp_path, tmp_path / "lake"),
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    failure = result.get_step_failure_events()[0]
    assert "no reading blocks" in str(failure.event_specific_data.error)  # type: ignore[union-attr]
