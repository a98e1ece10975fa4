"""The topic as a Spark stream: Spark's own ``kafka`` source (spark-sql-kafka-0-10), in every mode.

The connector is the release of the Spark we run, installed into pyspark's ``jars/`` folder by
``smartmeter install-jars`` (the same coordinates as the production image): local mode and a
standalone cluster read Kafka through the same code.

``failOnDataLoss`` stays true (Spark's default): a range deleted by retention, or offsets that go
backwards, stop the query with Spark's error instead of being skipped. A topic deleted and created
again is not data loss but a new topic: :func:`smartmeter_assets.stream.checkpoint.guard_topic`
decides that, before the query starts, and says so in the log.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from smartmeter_assets.kafka.security import KafkaSecurity
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.transforms import KAFKA_COLUMNS

#: Kafka consumer settings for the replay's large batches: fewer, bigger fetches. A batch that reads
#: up to the topic's end lost ~1.5 s, about ``fetch.max.wait.ms`` (500 ms by default) per wave of
#: tasks (three waves of 6 partitions on 2 cores): the last batch of a 14-day replay (159-388k
#: records) took 2.6-3.8 s in Spark, and 1.1-2.4 s with 10 ms; full batches took the same either way.
CONSUMER_OPTIONS: dict[str, str] = {
    "kafka.max.partition.fetch.bytes": str(16 * 1024 * 1024),
    "kafka.fetch.max.bytes": str(64 * 1024 * 1024),
    "kafka.receive.buffer.bytes": str(4 * 1024 * 1024),
    "kafka.fetch.max.wait.ms": "10",
}


def read_topic(session: SparkSession, settings: Settings, bootstrap: str) -> DataFrame:
    """Spark's kafka columns (key, value, topic, partition, offset, timestamp, timestampType)."""
    reader = (
        session.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", settings.kafka_topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(settings.spark_max_records_per_batch))
        .option("failOnDataLoss", "true")
        .options(**CONSUMER_OPTIONS)
        .options(**KafkaSecurity.from_settings(settings).spark_options())
    )
    return reader.load().select(*KAFKA_COLUMNS)
