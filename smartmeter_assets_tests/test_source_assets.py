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


def test_readings_checks_count_each_kind_of_bad_staged_reading(tmp_path: Path) -> None:
    """The readings checks over a staged dataset written by hand: two rows sharing a key, a null
    energy, a reading above the plausible maximum and one before the dataset's span, each caught
    by its own check with its count (staging keeps such rows out; the checks prove it)."""
    import pyarrow as pa
    import pyarrow.dataset as pads
    from dagster import Definitions

    from smartmeter_assets.contracts import SOURCES_DIR, VALID_FROM
    from smartmeter_assets.sources.staging import READINGS_DIR, STAGED_PARTITIONING, STAGED_READING_SCHEMA

    lake = Lake(str(tmp_path / "lake"))
    stamp = pd.Timestamp("2013-01-01 00:30:00")
    rows = pd.DataFrame(
        {
            "meter_id": ["MAC000001", "MAC000001", "MAC000002", "MAC000003", "MAC000004", "MAC000005"],
            "timestamp": [stamp, stamp, stamp, stamp, stamp, pd.Timestamp(VALID_FROM) - pd.Timedelta(hours=1)],
            "energy_kwh": [0.2, 0.3, None, 80.0, 0.1, 0.1],
        }
    )
    rows["reading_date"] = rows["timestamp"].dt.date
    pads.write_dataset(
        pa.Table.from_pandas(rows, schema=STAGED_READING_SCHEMA, preserve_index=False),
        lake.path(SOURCES_DIR, READINGS_DIR),
        format="parquet",
        partitioning=STAGED_PARTITIONING,
    )
    readings_checks = SOURCE_CHECKS[-1]
    defs = Definitions(
        assets=SOURCE_ASSETS, asset_checks=[readings_checks], resources=resources(tmp_path, tmp_path / "lake")
    )
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(), asset_check_selection=set(readings_checks.check_keys)
    )
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["schema"].passed
    assert not evaluations["unique_key"].passed
    assert evaluations["unique_key"].metadata["rows"].value == 6
    assert not evaluations["null_rates"].passed
    assert evaluations["null_rates"].metadata["null_rows"].value == 1
    ranges = evaluations["value_ranges"]
    assert not ranges.passed
    assert ranges.metadata["energy_max"].value == 80.0
    assert ranges.metadata["before_span"].value == 1
    assert ranges.metadata["after_span"].value == 0
    assert evaluations["unique_key"].metadata["problems"].value == "2 rows share a (meter_id, timestamp)"
