"""The reports refresh by themselves: Dagster's own evaluation of their automation condition, tick by tick."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dagster import AssetKey, AssetObservation, DagsterInstance, DefaultSensorStatus, evaluate_automation_conditions

from smartmeter_assets.contracts import LAKE_TABLES, RAW
from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.lake.assets import DATA_VERSION_TAG, lake_asset_key
from smartmeter_assets.defs.reports.assets import ALERTS_TABLE, REPORT_ASSETS
from smartmeter_assets.defs.reports.refresh import REFRESH_SENSOR
from smartmeter_assets.settings import Settings

REFRESHED = {report.key for report in REPORT_ASSETS} - {AssetKey(ALERTS_TABLE)}


def at(minute: int) -> datetime:
    return datetime(2026, 1, 1, 0, minute, 30, tzinfo=UTC)


def observe(instance: DagsterInstance, key: AssetKey, version: str) -> None:
    """What the stream sensor reports on a tick: an observation carrying the Delta version."""
    instance.report_runless_asset_event(AssetObservation(asset_key=key, tags={DATA_VERSION_TAG: version}))


def test_reports_refresh_once_per_cron_tick_and_only_when_the_lake_changed(tmp_path: Path) -> None:
    defs = build_definitions(Settings(home=tmp_path, reports_refresh_cron="*/5 * * * *"))
    raw = lake_asset_key(RAW)
    with DagsterInstance.ephemeral() as instance:
        evaluated = evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=at(1))
        assert evaluated.total_requested == 0  # nothing observed yet

        def tick(minute: int) -> set[AssetKey]:
            nonlocal evaluated
            evaluated = evaluate_automation_conditions(
                defs=defs, instance=instance, evaluation_time=at(minute), cursor=evaluated.cursor
            )
            return {key for key in REFRESHED | {AssetKey(ALERTS_TABLE)} if evaluated.get_num_requested(key)}

        for table in LAKE_TABLES:
            observe(instance, lake_asset_key(table), "1")
        assert tick(2) == set(), "requested before the cron tick"
        assert tick(6) == REFRESHED, "the 00:05 tick after new lake data must request every report but the detector"
        assert tick(7) == set(), "requested twice for one change"

        observe(instance, raw, "1")  # observed again, same Delta version: nothing new
        assert tick(11) == set(), "requested with no change in the lake"

        observe(instance, raw, "2")
        assert tick(12) == REFRESHED, "a new raw/ version after the 00:10 tick must request the reports"

        assert tick(13) == set(), "requested twice for one change"
        observe(instance, raw, "3")
        assert tick(14) == set(), "requested again before the next cron tick"
        assert tick(16) == REFRESHED, "the 00:15 tick must request the reports for the version seen at 00:14"


def test_the_refresh_sensor_runs_by_itself_in_the_embedded_setup_only(tmp_path: Path) -> None:
    embedded = build_definitions(Settings(home=tmp_path)).resolve_sensor_def(REFRESH_SENSOR)
    cluster = build_definitions(Settings(home=tmp_path, kafka_bootstrap="kafka:9092")).resolve_sensor_def(
        REFRESH_SENSOR
    )
    assert embedded.default_status == DefaultSensorStatus.RUNNING
    assert cluster.default_status == DefaultSensorStatus.STOPPED
    assert {key for key in embedded.asset_selection.resolve(  # type: ignore[union-attr]
        build_definitions(Settings(home=tmp_path)).resolve_asset_graph()
    )} == REFRESHED  # fmt: skip
