"""The lake checks, run through Dagster on lakes built to pass and to fail them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetKey,
    AssetObservation,
    DagsterInstance,
)
from deltalake import write_deltalake

from smartmeter_assets.contracts import AGGREGATED, ANOMALIES, RAW
from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.lake.assets import observation_events, observation_metadata
from smartmeter_assets.lake.observation import observe_table
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets_tests.lake_builder import raw_row, write_rows


def run_checks(settings: Settings, *checks: tuple[str, str]) -> dict[tuple[str, str], bool]:
    defs = build_definitions(settings)
    keys = {AssetCheckKey(AssetKey(asset), name) for asset, name in checks}
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(), asset_check_selection=keys)
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    return {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(home=tmp_path, lake_url=str(tmp_path / "lake"), **overrides)  # type: ignore[arg-type]


def test_schema_checks_pass_on_contract_tables_and_fail_on_a_foreign_one(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    lake = Lake(settings.lake_root)
    write_rows(lake, RAW, [raw_row("A", datetime(2013, 1, 1), 0.2)])
    foreign = pa.table({"window_start": ["yesterday"], "window_date": ["2013-01-01"]})
    write_deltalake(lake.url(AGGREGATED.name), foreign, partition_by=["window_date"])
    results = run_checks(settings, ("lake_raw", "schema"), ("lake_aggregated", "schema"), ("lake_anomalies", "schema"))
    assert results[("lake_raw", "schema")] is True
    assert results[("lake_aggregated", "schema")] is False
    assert results[("lake_anomalies", "schema")] is True  # not written yet: nothing to contradict


def test_anomaly_rate_passes_in_band_and_fails_above_it_or_when_tables_disagree(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, anomaly_rate_max=0.3)
    lake = Lake(settings.lake_root)
    rows = [raw_row(f"M{i}", datetime(2013, 1, 1, 0, 30), 0.1) for i in range(9)]
    flagged = raw_row("X", datetime(2013, 1, 1, 3), 2.5, anomaly=True)
    write_rows(lake, RAW, [*rows, flagged])
    write_rows(lake, ANOMALIES, [flagged])
    assert run_checks(settings, ("lake_anomalies", "anomaly_rate")) == {("lake_anomalies", "anomaly_rate"): True}

    strict = settings_for(tmp_path, anomaly_rate_max=0.05)
    assert run_checks(strict, ("lake_anomalies", "anomaly_rate")) == {("lake_anomalies", "anomaly_rate"): False}

    write_rows(lake, ANOMALIES, [raw_row("Y", datetime(2013, 1, 1, 4), 2.6, anomaly=True)])
    assert run_checks(settings, ("lake_anomalies", "anomaly_rate")) == {("lake_anomalies", "anomaly_rate"): False}


def test_watermark_drops_passes_when_every_raw_reading_is_aggregated_and_fails_otherwise(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    lake = Lake(settings.lake_root)
    check = ("lake_aggregated", "watermark_drops")
    assert run_checks(settings, check)[check]  # an empty lake lost nothing
    readings = [raw_row(f"M{i}", datetime(2013, 1, d, 10, 30), 0.1) for i in range(3) for d in (1, 2)]
    write_rows(lake, RAW, readings)
    for day in (1, 2):
        write_rows(lake, AGGREGATED, [window_row(datetime(2013, 1, day, 10, 30), readings=3)])
    assert run_checks(settings, check)[check]

    write_rows(lake, RAW, [raw_row("M9", datetime(2013, 1, 1, 23, 30), 0.1)])  # streamed, never aggregated
    assert not run_checks(settings, check)[check]
    write_rows(lake, AGGREGATED, [window_row(datetime(2013, 1, 1, 23, 30), readings=1)])
    assert run_checks(settings, check)[check]


def window_row(start: datetime, readings: int) -> dict[str, object]:
    return {
        "window_start": start,
        "window_end": start + timedelta(minutes=30),
        "reading_count": readings,
        "window_date": start.date(),
    }


def test_freshness_is_dagsters_check_on_raws_newest_file_and_warns_when_stale(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lake_freshness_minutes=30)
    lake = Lake(settings.lake_root)
    key = AssetCheckKey(AssetKey("lake_raw"), "freshness_check")
    job = (
        build_definitions(settings)
        .resolve_implicit_global_asset_job_def()
        .get_subset(asset_selection=set(), asset_check_selection={key})
    )
    with DagsterInstance.ephemeral() as instance:

        def judge() -> AssetCheckEvaluation:
            [evaluation] = job.execute_in_process(instance=instance, raise_on_error=False).get_asset_check_evaluations()
            assert evaluation.severity == AssetCheckSeverity.WARN  # smartmeter run warns, never fails, on it
            return evaluation

        assert not judge().passed  # never observed: never updated

        write_rows(lake, RAW, [raw_row("A", datetime(2013, 1, 1), 0.2)])
        for event in observation_events(lake, extra={AssetKey("lake_raw"): {"stream_lag": 0}}):
            instance.report_runless_asset_event(event)
        assert judge().passed, "raw/ written a moment ago is fresh"

        seen = observe_table(lake, RAW)
        assert seen.newest_file_time is not None
        stale = replace(seen, newest_file_time=seen.newest_file_time - 31 * 60)
        instance.report_runless_asset_event(
            AssetObservation(asset_key=AssetKey("lake_raw"), metadata=observation_metadata(lake, stale))
        )
        overdue = judge()
        assert not overdue.passed, "raw/ whose newest file is 31 minutes old is not fresh within 30"
        assert overdue.metadata["dagster/last_updated_timestamp"].value == stale.newest_file_time
