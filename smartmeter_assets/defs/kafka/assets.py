"""The publish path: a day's enriched readings, and that day published to the Kafka topic.

Thin wrappers: the work is in :mod:`smartmeter_assets.enrich` and
:mod:`smartmeter_assets.kafka.publish`; these wire resources, the day partition and metadata.
"""

# No ``from __future__ import annotations`` here: Dagster reads the context annotation at
# definition time and refuses a string.
from datetime import date

import pandas as pd
import pyarrow as pa
from dagster import (
    AssetExecutionContext,
    AssetIn,
    MaterializeResult,
    MetadataValue,
    Output,
    TableColumn,
    TableSchema,
    asset,
)

from smartmeter_assets.contracts import MESSAGE_FIELDS
from smartmeter_assets.defs.kafka.partitions import daily_partitions
from smartmeter_assets.defs.kafka.resources import KafkaResource
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.enrich import enrich_table
from smartmeter_assets.kafka.publish import publish_readings
from smartmeter_assets.lake.published import publish_records, write_publish_records
from smartmeter_assets.lake.reading_keys import key_digest
from smartmeter_assets.sources.staging import read_staged_table

GROUP = "kafka"
#: Publishing runs share this pool; the instance config every setup shares
#: (smartmeter_assets/instance/base.yaml) limits it to 1, so publishes run one at a time whoever launches them
#: (replay clock, backfill, UI) and their records are appended to ``published/`` in turn.
PUBLISH_POOL = "kafka_publish"

# No backfill policy (the parameter is beta in 1.13): Dagster's default launches one run per
# day, which is what we want; each day's publish has its own run id, publish record and failure.

MESSAGE_SCHEMA = TableSchema(
    columns=[
        TableColumn(f.name, f.type.value, description=f"{f.source}{'' if f.nullable else ' (never null)'}")
        for f in MESSAGE_FIELDS
    ]
)


@asset(
    group_name=GROUP,
    kinds={"pandas", "parquet"},
    partitions_def=daily_partitions,
    ins={
        "households": AssetIn("households"),
        "weather_hourly": AssetIn("weather_hourly"),
        "weather_daily": AssetIn("weather_daily"),
    },
    deps=["readings"],
)
def enriched_readings(
    context: AssetExecutionContext,
    lake: LakeResource,
    households: pd.DataFrame,
    weather_hourly: pd.DataFrame,
    weather_daily: pd.DataFrame,
) -> Output[pa.Table]:
    """The day's readings with household (tariff, ACORN) and weather, as the message fields (Arrow).

    Readings of unknown households or with no weather observation are kept with nulls and
    counted in the metadata; ``ingestion_time`` is added at publish.
    """
    day = date.fromisoformat(context.partition_key)
    readings = read_staged_table(lake.lake(), day)
    enriched, counts = enrich_table(readings, households, weather_hourly, weather_daily)
    if counts.unknown_household_readings or counts.missing_hourly_weather_readings:
        context.log.warning(
            f"{day}: {counts.unknown_household_readings} readings of unknown households, "
            f"{counts.missing_hourly_weather_readings} without hourly weather: kept with nulls"
        )
    return Output(
        enriched,
        metadata={
            "dagster/row_count": enriched.num_rows,
            "dagster/column_schema": MESSAGE_SCHEMA,
            "day": day.isoformat(),
            **counts.as_metadata(),
            "preview": MetadataValue.md(enriched.slice(0, 5).to_pandas().to_markdown(index=False)),
        },
    )


@asset(
    group_name=GROUP,
    kinds={"kafka"},
    partitions_def=daily_partitions,
    ins={"enriched_readings": AssetIn("enriched_readings")},
    pool=PUBLISH_POOL,
)
def smart_meter_topic(
    context: AssetExecutionContext,
    kafka: KafkaResource,
    lake: LakeResource,
    enriched_readings: pa.Table,
) -> MaterializeResult:
    """The day's readings published to the topic: key = meter_id, JSON, lz4, ``acks=all``.

    Fails, with the count, unless every record was acknowledged; only then is the day's publish
    record (the offsets it took per partition and the digest of its keys) appended to
    ``<lake>/published``. A re-publish appends a new record; the stream merges raw/ on
    (meter_id, timestamp), so a reading published twice lands once. That is how a day short in
    the lake (messages lost with a broker) is repaired: materialize its partition again.

    The day comes in as Arrow, as stored: encoding and the key digest work on Arrow, and a round
    trip through pandas cost ~6% of a publish at full scale.
    """
    day = date.fromisoformat(context.partition_key)
    bootstrap = kafka.bootstrap_servers()
    topic = kafka.ensure_topic()
    if topic.created:
        context.log.info(f"created topic {topic.topic} with {topic.partitions} partitions")
    report = publish_readings(
        enriched_readings,
        bootstrap,
        kafka.topic,
        kafka.partitions,
        tuning=kafka.tuning(),
        speedup=kafka.publish_speedup,
        processes=kafka.producer_processes,
        security=kafka.security(),
    )
    digest = key_digest(enriched_readings)
    write_publish_records(lake.lake(), publish_records(report, day, context.run.run_id, key_digest=digest))
    context.log.info(
        f"{day}: {report.records:,} readings to {report.topic} in {report.seconds:.2f}s "
        f"({report.records_per_second:,.0f}/s, {report.processes} producer process(es))"
    )
    return MaterializeResult(
        metadata={
            "dagster/row_count": report.records,
            "day": day.isoformat(),
            "topic": report.topic,
            "records": report.records,
            "bytes": report.bytes,
            "seconds": round(report.seconds, 3),
            "records_per_second": round(report.records_per_second),
            "producer_processes": report.processes,
            "offsets": MetadataValue.json(report.offsets_metadata()),
            "speedup": kafka.publish_speedup,
        }
    )


KAFKA_ASSETS = [enriched_readings, smart_meter_topic]
