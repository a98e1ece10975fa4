"""The enrich and publish assets materialized by Dagster for a day, against the real Apache Kafka broker."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest
from dagster import AssetKey, DagsterInstance, materialize

from smartmeter_assets.contracts import MESSAGE_FIELD_NAMES
from smartmeter_assets.defs.kafka.assets import KAFKA_ASSETS
from smartmeter_assets.defs.kafka.partitions import daily_partitions
from smartmeter_assets.defs.kafka.resources import KafkaResource
from smartmeter_assets.defs.lake.io_manager import LakeParquetIOManager, read_frame
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.defs.sources.assets import SOURCE_ASSETS
from smartmeter_assets.defs.sources.resources import SourceFilesResource
from smartmeter_assets.kafka.broker import EmbeddedBroker, free_port
from smartmeter_assets.kafka.message import partition_for_key
from smartmeter_assets.kafka.topic import ensure_topic
from smartmeter_assets.lake.published import published_days
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.sample_data.generator import SampleSpec, generate
from smartmeter_assets.settings import Settings
from smartmeter_assets.sources.staging import read_staged_day
from smartmeter_assets.stream.landing import compare_published_keys
from smartmeter_assets_tests.test_publish import consume_by_assignment

DAY = "2013-01-08"  # the generated sample starts on 2013-01-07


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A generated sample, its sources materialized into a lake; the settings that point there."""
    root = tmp_path_factory.mktemp("kafka-assets")
    generate(root / "data", SampleSpec(households=12, days=3))
    settings = Settings(home=root, data_dir=root / "data", lake_url=str(root / "lake"))
    with DagsterInstance.ephemeral() as instance:
        result = materialize(SOURCE_ASSETS, resources=resources(settings), instance=instance)
    assert result.success
    return settings


def resources(settings: Settings, producer_processes: int = 1) -> dict[str, object]:
    kafka = KafkaResource.from_settings(settings, producer_processes=producer_processes)
    return {
        "io_manager": LakeParquetIOManager(url=settings.lake_root),
        "lake": LakeResource.from_settings(settings),
        "sources": SourceFilesResource.from_settings(settings),
        "kafka": kafka,
    }


def publish_day(settings: Settings, instance: DagsterInstance, day: str = DAY, producer_processes: int = 1):
    return materialize(
        [*SOURCE_ASSETS, *KAFKA_ASSETS],
        selection=[a.key for a in KAFKA_ASSETS],
        partition_key=day,
        resources=resources(settings, producer_processes),
        instance=instance,
        raise_on_error=False,
    )


def again_meta(instance: DagsterInstance):
    event = instance.get_latest_materialization_event(AssetKey("smart_meter_topic"))
    return event.asset_materialization.metadata  # type: ignore[union-attr]


def failure_message(result) -> str:
    return str(result.get_step_failure_events()[0].event_specific_data.error)


def test_the_partitions_span_the_dataset() -> None:
    keys = daily_partitions.get_partition_keys()
    assert (keys[0], keys[-1], len(keys)) == ("2011-11-23", "2014-02-28", 829)


def test_the_resource_is_built_from_settings_and_finds_the_embedded_broker(kafka_broker: EmbeddedBroker) -> None:
    settings = Settings(home=kafka_broker.home, kafka_topic="t", kafka_partitions=4, kafka_compression="gzip")
    resource = KafkaResource.from_settings(settings)
    assert (resource.bootstrap, resource.topic, resource.partitions, resource.compression) == (
        "embedded",
        "t",
        4,
        "gzip",
    )
    assert resource.bootstrap_servers() == kafka_broker.bootstrap
    assert resource.tuning().compression == "gzip"
    real = KafkaResource.from_settings(Settings(kafka_bootstrap="kafka:9092"))
    assert real.bootstrap_servers() == "kafka:9092"


def test_a_day_is_enriched_published_and_recorded(staged: Settings, kafka_broker: EmbeddedBroker) -> None:
    topic = f"day-{uuid.uuid4().hex[:8]}"
    # "embedded": the run finds the session's broker through its state file, as a run worker does
    settings = staged.model_copy(update={"kafka_topic": topic, "home": kafka_broker.home})
    lake = Lake(staged.lake_root)

    with DagsterInstance.ephemeral() as instance:
        first = publish_day(settings, instance)
        assert first.success
        enriched = read_frame(lake, "enriched_readings", DAY)
        records = consume_by_assignment(kafka_broker.bootstrap, topic, 6)
        day_readings = len(read_staged_day(lake, date.fromisoformat(DAY)))  # gaps and nulls: < 12 * 48

        assert len(enriched) == len(records) == day_readings > 0
        messages = {}
        for partition, _, key, value in records:
            message = json.loads(value)
            assert list(message) == list(MESSAGE_FIELD_NAMES)
            assert key == message["meter_id"].encode() and partition == partition_for_key(key, 6)
            message.pop("ingestion_time")
            messages[(message["meter_id"], message["timestamp"])] = message
        expected = {
            (row["meter_id"], row["timestamp"]): {
                k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()
            }
            for row in enriched.to_dict("records")
        }
        assert messages == expected
        assert all(m["timestamp"].startswith(DAY) for m in messages.values())

        event = instance.get_latest_materialization_event(AssetKey("smart_meter_topic"))
        metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
        assert metadata["records"].value == day_readings
        assert metadata["bytes"].value > 0 and metadata["records_per_second"].value > 0
        offsets = metadata["offsets"].value
        assert sum(p["records"] for p in offsets.values()) == day_readings
        enriched_meta = instance.get_latest_materialization_event(AssetKey("enriched_readings"))
        assert enriched_meta.asset_materialization.metadata["readings"].value == day_readings  # type: ignore[union-attr]

        published = published_days(lake)
        assert published["run_id"].unique().tolist() == [first.run_id]
        assert published["records"].sum() == day_readings
        # the digest the publish recorded is the staged day's: its keys are the published keys
        keys = compare_published_keys(lake)
        assert keys.changed_days == []
        assert [(d.published, d.missing) for d in keys.days] == [(day_readings, day_readings)]

        # a backfill of the same day, this time from two forked producer processes:
        # published again, recorded as the latest publish
        again = publish_day(settings, instance, producer_processes=2)
        assert again.success
        latest = published_days(lake).set_index("partition")
        assert latest["run_id"].unique().tolist() == [again.run_id]
        for name, part in offsets.items():
            row = latest.loc[int(name.removeprefix("p"))]
            if part["records"]:
                assert row["first_offset"] == part["last"] + 1  # after the first copy
        assert again_meta(instance)["producer_processes"].value == 2
        assert len(consume_by_assignment(kafka_broker.bootstrap, topic, 6)) == 2 * day_readings


def test_a_broker_that_is_down_fails_the_day_and_records_nothing(staged: Settings) -> None:
    settings = staged.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{free_port()}"})
    with DagsterInstance.ephemeral() as instance:
        result = publish_day(settings, instance)
    assert not result.success
    assert "no Kafka broker reachable at '127.0.0.1:" in failure_message(result)
    materialized = [e.asset_key for e in result.get_asset_materialization_events()]
    assert materialized == [AssetKey("enriched_readings")]  # the topic was not materialized
    assert not published_days(Lake(staged.lake_root))["run_id"].eq(result.run_id).any()


def test_a_topic_with_the_wrong_partition_count_is_refused(staged: Settings, kafka_bootstrap: str) -> None:
    topic = f"wrong-{uuid.uuid4().hex[:8]}"
    ensure_topic(kafka_bootstrap, topic, partitions=2)
    settings = staged.model_copy(update={"kafka_topic": topic, "kafka_bootstrap": kafka_bootstrap})
    with DagsterInstance.ephemeral() as instance:
        result = publish_day(settings, instance)
    assert not result.success
    assert f"topic '{topic}' exists with 2 partitions but 6 are configured" in failure_message(result)
    assert consume_by_assignment(kafka_bootstrap, topic, 2) == []
    assert not published_days(Lake(staged.lake_root))["run_id"].eq(result.run_id).any()
