"""The Kafka topic as a Spark streaming source: the native connector, or our Python one.

Both give Spark's kafka columns (``key, value, topic, partition, offset, timestamp,
timestampType``), so everything after :func:`read_kafka` is one code path.

Why a Python source at all: the native connector's jar comes from Maven Central, which our machines
cannot reach (design.md section 1). :class:`KafkaSource` is a ``pyspark.sql.datasource`` streaming
source: the driver plans offset ranges per partition, each range is read in a Python worker with
kafka-python by *partition assignment* (no consumer group, nothing committed to Kafka: the offsets
live in Spark's checkpoint), ``availableNow`` and a max-rows-per-batch limit are honoured.

The offset Spark checkpoints is ``{"topic", "topic_id", "offsets": {partition: next offset}}``.
The topic id is Kafka's topic UUID; it tells a *new* topic with the same name from the old one.
That matters here: the embedded broker keeps its log in memory, so after a restart the topic is
empty while our checkpoint still points at, say, offset 120,000. When the id changed (or, where a
broker gives no id, when a partition's end is below our position) the source starts that topic
again from its beginning: nothing new is skipped, and what was already in the lake is recognised
by the writer's (meter_id, timestamp) de-duplication, so nothing is written twice.

tansu quirk: its ListOffsets(LATEST) answers the base offset of the partition's last record
*batch* plus one, not the true end. The driver therefore reads that last batch and takes the end
from the high watermark of the fetch (and the last offset seen), which is also exact on real
Kafka, where both agree with ListOffsets.

What the Python source does not do (use the native source for these): ``subscribePattern`` and
``assign`` (one topic, all its partitions), ``startingOffsets``/``endingOffsets`` other than
earliest, offsets by timestamp, record headers, security options (SSL/SASL), ``minOffsetsPerTrigger``
and ``maxTriggerDelay``, continuous processing. Lost data on a broker that kept the topic (a
retention-deleted range) is skipped with a log line, like the native source with
``failOnDataLoss=false``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadLimit,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)
from pyspark.sql.types import StructType

from smartmeter_assets.settings import KafkaSourceKind, Settings
from smartmeter_assets.stream.session import native_kafka_available
from smartmeter_assets.stream.transforms import KAFKA_COLUMNS, KAFKA_SCHEMA

log = logging.getLogger(__name__)

SOURCE_NAME = "smartmeter_kafka"
#: Tuned on this machine: big fetches amortise kafka-python's per-request cost; lz4 batches are
#: ~4x smaller on the wire than JSON, so 16 MB per partition is a few hundred thousand readings.
FETCH_CONFIG: dict[str, Any] = {
    "max_partition_fetch_bytes": 16 * 1024 * 1024,
    "fetch_max_bytes": 64 * 1024 * 1024,
    "fetch_max_wait_ms": 100,
    "max_poll_records": 50_000,
    "receive_buffer_bytes": 4 * 1024 * 1024,
    "check_crcs": False,  # the broker and TCP already check; CRC in Python costs ~15% of the read
}
_ARROW_SCHEMA = pa.schema(
    [
        pa.field("key", pa.binary()),
        pa.field("value", pa.binary()),
        pa.field("topic", pa.string()),
        pa.field("partition", pa.int32()),
        pa.field("offset", pa.int64()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("timestampType", pa.int32()),
    ]
)
_STALL_SECONDS = 60.0
_TOPIC_WAIT_SECONDS = 5.0


class SourceError(RuntimeError):
    """The topic cannot be read as planned (no partitions, broker unreachable, stalled fetch)."""


@dataclass(frozen=True)
class TopicPosition:
    """One point in the topic: its identity and the next offset to read per partition."""

    topic: str
    topic_id: str | None
    offsets: dict[int, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "topic_id": self.topic_id or "",
            "offsets": {str(p): o for p, o in sorted(self.offsets.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TopicPosition:
        offsets = {int(p): int(o) for p, o in data.get("offsets", {}).items()}
        return cls(str(data["topic"]), data.get("topic_id") or None, offsets)


def split_budget(start: dict[int, int], end: dict[int, int], budget: int | None) -> dict[int, int]:
    """End offsets that read at most ``budget`` records, shared in proportion to what each partition has.

    Proportional, so partitions advance together in event time (a day-by-day replay spreads each
    day over all partitions) and the watermark does not race ahead on one of them.
    """
    available = {p: max(0, end[p] - start.get(p, 0)) for p in end}
    total = sum(available.values())
    if budget is None or total <= budget:
        return dict(end)
    shares = {p: budget * n // total for p, n in available.items()}
    left = budget - sum(shares.values())
    for p in sorted(available, key=lambda q: available[q] - shares[q], reverse=True):
        if left == 0:
            break
        if shares[p] < available[p]:
            shares[p] += 1
            left -= 1
    return {p: start.get(p, 0) + shares[p] for p in end}


def _consumer(bootstrap: str, **overrides: Any) -> Any:
    from kafka import KafkaConsumer

    config = {**FETCH_CONFIG, **overrides}
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **config,
    )


class TopicProbe:
    """Driver-side view of the topic: identity, beginnings and true ends (lives in one process)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        # Small fetches: only the last batch of each partition is read, to learn the true end.
        self._consumer = _consumer(bootstrap, max_partition_fetch_bytes=1024 * 1024, max_poll_records=1)
        self._admin: Any = None

    def close(self) -> None:
        self._consumer.close()
        if self._admin is not None:
            self._admin.close()

    def topic_id(self) -> str | None:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        if self._admin is None:
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            described = self._admin.describe_topics([self.topic])
        except KafkaError:  # no such topic (yet): no identity
            return None
        topic_id = described[0].get("topic_id") if described else None
        if not topic_id or set(str(topic_id)) <= {"0", "-"}:  # the all-zero UUID means "none"
            return None
        return str(topic_id)

    def partitions(self) -> list[Any]:
        """The topic's partitions; none while the topic does not exist (a stream may start first)."""
        from kafka import TopicPartition

        deadline = time.monotonic() + _TOPIC_WAIT_SECONDS
        while True:
            numbers = self._consumer.partitions_for_topic(self.topic)
            if numbers:
                return [TopicPartition(self.topic, p) for p in sorted(numbers)]
            if time.monotonic() > deadline:
                log.warning("topic %r does not exist on %s (yet): nothing to read", self.topic, self.bootstrap)
                return []
            time.sleep(0.5)

    def beginnings(self) -> dict[int, int]:
        partitions = self.partitions()
        if not partitions:
            return {}
        return {tp.partition: o for tp, o in self._consumer.beginning_offsets(partitions).items()}

    def ends(self) -> dict[int, int]:
        """The true next offset per partition (see the module docstring for tansu's answer)."""
        partitions = self.partitions()
        if not partitions:
            return {}
        listed = self._consumer.end_offsets(partitions)
        ends = {tp.partition: int(o) for tp, o in listed.items()}
        probing = [tp for tp in partitions if ends[tp.partition] > 0]
        if not probing:
            return ends
        self._consumer.assign(probing)
        for tp in probing:
            self._consumer.seek(tp, ends[tp.partition] - 1)
        pending = set(probing)
        deadline = time.monotonic() + 15
        while pending and time.monotonic() < deadline:
            for tp, records in self._consumer.poll(timeout_ms=500, max_records=10_000).items():
                if records:
                    ends[tp.partition] = max(ends[tp.partition], records[-1].offset + 1)
                pending.discard(tp)
        for tp in probing:
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                ends[tp.partition] = max(ends[tp.partition], int(highwater))
        if pending:
            log.warning("no fetch answer for %s: using ListOffsets' ends", sorted(tp.partition for tp in pending))
        self._consumer.assign([])
        return ends


class OffsetRange(InputPartition):
    """What one Spark task reads: ``[start, end)`` of one partition (picklable, no client in it)."""

    def __init__(self, bootstrap: str, topic: str, partition: int, start: int, end: int) -> None:
        super().__init__((partition, start, end))
        self.bootstrap = bootstrap
        self.topic = topic
        self.partition = partition
        self.start = start
        self.end = end


_KEY, _VALUE, _OFFSET = attrgetter("key"), attrgetter("value"), attrgetter("offset")
_TIMESTAMP, _TIMESTAMP_TYPE = attrgetter("timestamp"), attrgetter("timestamp_type")


def _record_batch(rows: list[Any], topic: str, partition: int) -> pa.RecordBatch:
    """Records -> Arrow, column by column (``map`` + ``attrgetter``: the cheapest loop in CPython)."""
    count = len(rows)
    millis = pa.array(map(_TIMESTAMP, rows), pa.int64(), size=count)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(map(_KEY, rows), pa.binary(), size=count),
            pa.array(map(_VALUE, rows), pa.binary(), size=count),
            pa.repeat(pa.scalar(topic, pa.string()), count),
            pa.repeat(pa.scalar(partition, pa.int32()), count),
            pa.array(map(_OFFSET, rows), pa.int64(), size=count),
            pc.multiply(millis, 1000).cast(pa.timestamp("us", tz="UTC")),
            pa.array(map(_TIMESTAMP_TYPE, rows), pa.int32(), size=count).fill_null(0),
        ],
        schema=_ARROW_SCHEMA,
    )


def read_range(part: OffsetRange) -> Iterator[pa.RecordBatch]:
    """Every record of ``[start, end)`` in offset order, as Arrow batches (runs in a Python worker)."""
    from kafka import TopicPartition

    if part.end <= part.start:
        return
    tp = TopicPartition(part.topic, part.partition)
    consumer = _consumer(part.bootstrap)
    try:
        consumer.assign([tp])
        consumer.seek(tp, part.start)
        position = part.start
        last_progress = time.monotonic()
        while position < part.end:
            polled = consumer.poll(timeout_ms=1000, max_records=FETCH_CONFIG["max_poll_records"])
            records = [r for r in polled.get(tp, ()) if r.offset < part.end]
            if records:
                position = records[-1].offset + 1
                last_progress = time.monotonic()
                yield _record_batch(records, part.topic, part.partition)
                continue
            highwater = consumer.highwater(tp)
            if highwater is not None and consumer.position(tp) >= highwater:
                # The broker no longer has the planned range (an in-memory broker restarted):
                # the next batch re-reads the new topic from its start (see latestOffset).
                log.warning("partition %s ends at %s, below the planned %s: range cut short", tp, highwater, part.end)
                return
            if time.monotonic() - last_progress > _STALL_SECONDS:
                raise SourceError(f"no record from {tp} at offset {position} for {_STALL_SECONDS:.0f}s")
    finally:
        consumer.close()


class KafkaStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Plans offset ranges on the driver; reads them in the workers (see the module docstring)."""

    def __init__(self, options: dict[str, str]) -> None:
        try:
            self.bootstrap = options["bootstrap"]
            self.topic = options["topic"]
        except KeyError as missing:
            raise SourceError(f"option {missing} is required by the {SOURCE_NAME} source") from None
        self.max_rows = int(options["max_records_per_batch"]) if options.get("max_records_per_batch") else None
        self._probe: TopicProbe | None = None
        self._target: TopicPosition | None = None

    def __getstate__(self) -> dict[str, Any]:
        """The reader is pickled to the workers: never with a live client in it."""
        state = dict(self.__dict__)
        state["_probe"] = None
        return state

    @property
    def probe(self) -> TopicProbe:
        if self._probe is None:
            self._probe = TopicProbe(self.bootstrap, self.topic)
        return self._probe

    def _now(self) -> TopicPosition:
        return TopicPosition(self.topic, self.probe.topic_id(), self.probe.ends())

    def initialOffset(self) -> dict[str, Any]:  # noqa: N802 - Spark API
        return TopicPosition(self.topic, self.probe.topic_id(), self.probe.beginnings()).to_json()

    def getDefaultReadLimit(self) -> ReadLimit:  # noqa: N802 - Spark API
        return ReadMaxRows(self.max_rows) if self.max_rows else ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:  # noqa: N802 - Spark API
        self._target = self._now()

    def _resume_from(self, start: TopicPosition, latest: TopicPosition) -> dict[int, int]:
        """Where to continue: ``start``, or the beginning when the topic is not the same one."""
        renamed = start.topic_id is not None and latest.topic_id is not None and start.topic_id != latest.topic_id
        behind = any(latest.offsets.get(p, 0) < o for p, o in start.offsets.items())
        if renamed or behind or start.topic != latest.topic:
            beginnings = self.probe.beginnings()
            log.warning(
                "topic %s is new (id %s -> %s, ends %s, we were at %s): reading it from its beginning",
                self.topic, start.topic_id, latest.topic_id, latest.offsets, start.offsets,
            )  # fmt: skip
            return beginnings
        beginnings: dict[int, int] | None = None
        resumed = {}
        for p in latest.offsets:
            if p in start.offsets:
                resumed[p] = start.offsets[p]
            else:  # a partition added since: read it all
                beginnings = beginnings or self.probe.beginnings()
                resumed[p] = beginnings.get(p, 0)
        return resumed

    def latestOffset(self, start: dict[str, Any], limit: ReadLimit) -> dict[str, Any]:  # noqa: N802 - Spark API
        begin = TopicPosition.from_json(start)
        latest = self._now()
        if self._target is not None and self._target.topic_id == latest.topic_id:
            latest = TopicPosition(
                latest.topic,
                latest.topic_id,
                {p: min(o, self._target.offsets.get(p, o)) for p, o in latest.offsets.items()},
            )
        resumed = self._resume_from(begin, latest)
        ends = {p: max(o, resumed.get(p, 0)) for p, o in latest.offsets.items()}
        budget = limit.max_rows if isinstance(limit, ReadMaxRows) else None
        end = split_budget(resumed, ends, budget)
        result = TopicPosition(self.topic, latest.topic_id, end).to_json()
        if resumed != {p: begin.offsets.get(p) for p in resumed}:
            result["from"] = {str(p): o for p, o in sorted(resumed.items())}
        if result["offsets"] == begin.to_json()["offsets"] and latest.topic_id == begin.topic_id:
            return start  # nothing new: Spark runs no batch
        return result

    def partitions(self, start: dict[str, Any], end: dict[str, Any]) -> list[OffsetRange]:
        begin, finish = TopicPosition.from_json(start), TopicPosition.from_json(end)
        origin = {int(p): int(o) for p, o in end.get("from", {}).items()} or begin.offsets
        ranges = []
        for partition, stop in sorted(finish.offsets.items()):
            first = origin.get(partition, 0)
            if stop > first:
                ranges.append(OffsetRange(self.bootstrap, self.topic, partition, first, stop))
        return ranges

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        assert isinstance(partition, OffsetRange)
        return read_range(partition)

    def commit(self, end: dict[str, Any]) -> None:
        """Nothing to do: the offsets live in Spark's checkpoint, never in Kafka."""

    def stop(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None


class KafkaSource(DataSource):
    """``spark.readStream.format("smartmeter_kafka")`` with options bootstrap, topic, max_records_per_batch."""

    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def schema(self) -> StructType:
        return KAFKA_SCHEMA

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:  # noqa: N802 - Spark API
        return KafkaStreamReader(dict(self.options))


def chosen_kind(session: SparkSession, settings: Settings) -> KafkaSourceKind:
    """``auto`` becomes native when the connector is on the classpath, else python."""
    if settings.spark_kafka_source is not KafkaSourceKind.AUTO:
        return settings.spark_kafka_source
    return KafkaSourceKind.NATIVE if native_kafka_available(session) else KafkaSourceKind.PYTHON


def read_kafka(session: SparkSession, settings: Settings, bootstrap: str) -> tuple[DataFrame, KafkaSourceKind]:
    """The topic as a streaming DataFrame with Spark's kafka columns, from the chosen source."""
    kind = chosen_kind(session, settings)
    if kind is KafkaSourceKind.NATIVE:
        reader = (
            session.readStream.format("kafka")
            .option("kafka.bootstrap.servers", bootstrap)
            .option("subscribe", settings.kafka_topic)
            .option("startingOffsets", "earliest")
            .option("maxOffsetsPerTrigger", settings.spark_max_records_per_batch)
            # A restarted in-memory broker starts the topic again: read it, do not fail.
            .option("failOnDataLoss", "false")
        )
    else:
        session.dataSource.register(KafkaSource)
        reader = (
            session.readStream.format(SOURCE_NAME)
            .option("bootstrap", bootstrap)
            .option("topic", settings.kafka_topic)
            .option("max_records_per_batch", str(settings.spark_max_records_per_batch))
        )
    return reader.load().select(*KAFKA_COLUMNS), kind
