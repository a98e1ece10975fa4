"""The replay clock: sources first, then the next unpublished day, one run at a time."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dagster import AssetKey, AssetMaterialization, DagsterInstance, build_sensor_context

from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.stream.replay import REPLAY_TAG, build_replay_clock, next_day_to_publish
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.sample_data.generator import SampleSpec, generate
from smartmeter_assets.settings import Settings
from smartmeter_assets.sources.readings import block_files
from smartmeter_assets.sources.staging import stage_block

DAYS = [date(2013, 1, 7), date(2013, 1, 8), date(2013, 1, 9)]


def test_next_day_is_the_earliest_unpublished_on_or_after_the_start() -> None:
    assert next_day_to_publish(DAYS, set(), None) == DAYS[0]
    assert next_day_to_publish(DAYS, {"2013-01-07"}, None) == DAYS[1]
    assert next_day_to_publish(DAYS, set(), DAYS[2]) == DAYS[2]
    assert next_day_to_publish(DAYS, {d.isoformat() for d in DAYS}, None) is None


def test_the_clock_materializes_the_sources_then_publishes_day_by_day(tmp_path: Path) -> None:
    data = tmp_path / "data"
    generate(data, SampleSpec(households=2, days=3))
    settings = Settings(home=tmp_path, data_dir=data, lake_url=str(tmp_path / "lake"))
    for block in block_files(data):
        stage_block(Lake(settings.lake_root), block)
    clock = build_replay_clock(settings)
    defs = build_definitions(settings)
    with DagsterInstance.ephemeral() as instance:

        def tick():
            return clock.evaluate_tick(build_sensor_context(instance=instance, definitions=defs))

        first = tick()
        assert [set(r.asset_selection) for r in first.run_requests] == [
            {AssetKey(k) for k in ("households", "weather_hourly", "weather_daily", "readings")}
        ]
        instance.report_runless_asset_event(AssetMaterialization("readings"))
        second = tick()
        assert [r.partition_key for r in second.run_requests] == ["2013-01-07"]
        assert second.run_requests[0].tags[REPLAY_TAG] == "true"

        instance.report_runless_asset_event(AssetMaterialization("smart_meter_topic", partition="2013-01-07"))
        assert [r.partition_key for r in tick().run_requests] == ["2013-01-08"]
