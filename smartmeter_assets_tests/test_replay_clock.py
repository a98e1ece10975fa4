"""The replay clock: sources first, then the next unpublished day, one run at a time."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

from dagster import AssetKey, AssetMaterialization, DagsterInstance, build_sensor_context

from smartmeter_assets.contracts import RAW, REJECTED
from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.stream.replay import REPLAY_TAG, build_replay_clock, next_day_to_publish, published_in_lake
from smartmeter_assets.kafka.publish import PartitionReport, PublishReport
from smartmeter_assets.kafka.topic import ensure_topic
from smartmeter_assets.lake.published import publish_records, write_publish_records
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.sample_data.generator import SampleSpec, generate
from smartmeter_assets.settings import Settings
from smartmeter_assets.sources.readings import block_files
from smartmeter_assets.sources.staging import stage_block
from smartmeter_assets_tests.lake_builder import raw_row, rejected_row, write_rows

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

        # a materialization alone does not count: the lake says what is published
        instance.report_runless_asset_event(AssetMaterialization("smart_meter_topic", partition="2013-01-07"))
        assert [r.partition_key for r in tick().run_requests] == ["2013-01-07"]
        record_publish(Lake(settings.lake_root), DAYS[0])
        assert [r.partition_key for r in tick().run_requests] == ["2013-01-08"]


def record_publish(lake: Lake, day: date, readings: int = 10) -> None:
    report = PublishReport("t", readings, 0, 0.1, 1, [PartitionReport(0, readings, 0, 0, readings - 1)])
    write_publish_records(lake, publish_records(report, day, "run"))


def test_a_day_short_in_the_lake_is_published_again_once_the_stream_caught_up(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    data = tmp_path / "data"
    generate(data, SampleSpec(households=2, days=3))
    topic = f"replay-{uuid.uuid4().hex[:8]}"
    ensure_topic(kafka_bootstrap, topic, partitions=6)  # empty, nothing to read: the stream caught up
    caught_up = Settings(home=tmp_path, data_dir=data, lake_url=str(tmp_path / "lake"),
                         kafka_bootstrap=kafka_bootstrap, kafka_topic=topic)  # fmt: skip
    lake = Lake(caught_up.lake_root)
    for block in block_files(data):
        stage_block(lake, block)
    record_publish(lake, DAYS[0])
    record_publish(lake, DAYS[1], readings=2)
    write_rows(lake, RAW, [raw_row("MAC000001", datetime(2013, 1, 8, 0, 30), 0.1)])  # 1 of 2 landed
    write_rows(lake, REJECTED, [rejected_row("MAC000001", "2013-01-07 00:30:00", "negative_energy", DAYS[0])])
    write_rows(lake, RAW, [raw_row("MAC000002", datetime(2013, 1, 7, h), 0.1) for h in range(9)])  # 10 of 10

    assert published_in_lake(lake, caught_up) == {DAYS[0].isoformat()}
    behind = caught_up.model_copy(update={"kafka_bootstrap": "127.0.0.1:9", "kafka_topic": topic})  # lag unknown
    assert published_in_lake(lake, behind) == {DAYS[0].isoformat(), DAYS[1].isoformat()}

    clock = build_replay_clock(caught_up)
    with DagsterInstance.ephemeral() as instance:
        instance.report_runless_asset_event(AssetMaterialization("readings"))
        for day in DAYS[:2]:  # Dagster's record says both went out; the lake says one is short
            instance.report_runless_asset_event(AssetMaterialization("smart_meter_topic", partition=day.isoformat()))
        context = build_sensor_context(instance=instance, definitions=build_definitions(caught_up))
        assert [r.partition_key for r in clock.evaluate_tick(context).run_requests] == [DAYS[1].isoformat()]
