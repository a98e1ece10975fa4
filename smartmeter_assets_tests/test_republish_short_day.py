"""A day whose messages were lost with the topic is found short by the lake, published again
through Dagster (as from the UI), and lands once: the real broker, Spark stream and Delta lake."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize
from pyspark.sql import SparkSession

from smartmeter_assets.defs.sources.assets import SOURCE_ASSETS
from smartmeter_assets.defs.stream.replay import published_in_lake
from smartmeter_assets.kafka.topic import ensure_topic
from smartmeter_assets.lake.reconciliation import reconcile
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.sample_data.generator import SampleSpec, generate
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.job import run_stream
from smartmeter_assets.stream.landing import compare_published_keys, short_days
from smartmeter_assets_tests.test_kafka_assets import publish_day, resources
from smartmeter_assets_tests.test_stream_job import lake_keys
from smartmeter_assets_tests.topic_loss import delete_topic

pytestmark = [pytest.mark.spark, pytest.mark.kafka]
KEPT, LOST = "2013-01-07", "2013-01-08"


def test_a_day_lost_with_the_topic_is_short_in_the_lake_and_a_republish_lands_once(
    spark: SparkSession, kafka_bootstrap: str, tmp_path: Path
) -> None:
    generate(tmp_path / "data", SampleSpec(households=6, days=3))
    settings = Settings(
        home=tmp_path, data_dir=tmp_path / "data", lake_url=str(tmp_path / "lake"),
        kafka_bootstrap=kafka_bootstrap, kafka_topic=f"lost-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    lake = Lake(settings.lake_root)
    ensure_topic(kafka_bootstrap, settings.kafka_topic, settings.kafka_partitions)
    with DagsterInstance.ephemeral() as instance:
        assert materialize(SOURCE_ASSETS, resources=resources(settings), instance=instance).success
        assert publish_day(settings, instance, KEPT).success
        run_stream(settings, available_now=True)
        assert publish_day(settings, instance, LOST).success
        delete_topic(kafka_bootstrap, settings.kafka_topic)  # the broker loses the topic
        ensure_topic(kafka_bootstrap, settings.kafka_topic, settings.kafka_partitions)
        run_stream(settings, available_now=True)  # caught up with the new, empty topic

        # Dagster's record says both days went out; the lake says one is short
        assert short_days(lake) == [LOST]
        assert published_in_lake(lake, settings) == {KEPT}
        lost = compare_published_keys(lake)
        assert [(d.day, d.missing == d.published > 0) for d in lost.days] == [(KEPT, False), (LOST, True)]
        assert not reconcile(lost.days, lost.changed_days, 0, caught_up=True).passed

        assert publish_day(settings, instance, LOST).success  # materialize the partition again
        assert publish_day(settings, instance, KEPT).success  # and a whole day too: lands once
        run_stream(settings, available_now=True)

    keys = lake_keys(lake)
    assert len(keys) == len(set(keys)), "a reading is in raw/ twice"
    after = compare_published_keys(lake)
    assert reconcile(after.days, after.changed_days, 0, caught_up=True).passed
    assert short_days(lake) == [] and published_in_lake(lake, settings) == {KEPT, LOST}
    assert sum(d.published for d in after.days) == len(keys)
