"""The stream job: Kafka -> classify -> the lake, as one Spark Structured Streaming query.

``run_stream`` is what both launchers call: ``python -m smartmeter_assets.stream`` (Dagster Pipes
or a terminal) and ``spark-submit .../smartmeter_assets/stream/__main__.py`` in production. It
blocks until the query ends (``available_now``: when everything published at start is in the
lake; ``drain_file``: when a publisher's drain target is, see :mod:`.drain`) and raises if the
query failed, so a dead job can never look like a success.

Before the query starts, the topic is made (idempotently) and the checkpoint checked against it
(a recreated topic gets a new checkpoint, logged; files a killed job wrote but never renamed into
Spark's logs are removed, logged). The query's id, which Spark keeps in the checkpoint, names the
writer of every lake commit: see :mod:`smartmeter_assets.stream.lake_writer`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from smartmeter_assets.kafka.broker import resolve_bootstrap
from smartmeter_assets.kafka.security import KafkaSecurity
from smartmeter_assets.kafka.topic import ensure_topic, topic_id
from smartmeter_assets.lake.storage import Lake, s3_ca_bundle, s3_endpoint
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.checkpoint import checkpoint_location, guard_topic, remove_unrenamed_writes
from smartmeter_assets.stream.drain import DrainTarget
from smartmeter_assets.stream.lake_writer import LakeWriter
from smartmeter_assets.stream.progress import RunTotals, batch_figures, describe
from smartmeter_assets.stream.session import build_session
from smartmeter_assets.stream.source import read_topic
from smartmeter_assets.stream.transforms import anomaly_thresholds, classify
from smartmeter_assets.stream.truststore import check_endpoint_trust
from smartmeter_assets.stream.window import WindowSpec

log = logging.getLogger(__name__)

BatchCallback = Callable[[dict[str, Any]], None]
#: How often a draining query looks whether its drain target is reached: the run waits on it.
_DRAIN_POLL_SECONDS = 0.2
#: How long a batch waits for the query to have started (its id names the lake writer).
_START_TIMEOUT_SECONDS = 120.0


class StreamError(RuntimeError):
    """The streaming query stopped with an error."""


def build_query_input(session: SparkSession, settings: Settings, bootstrap: str) -> DataFrame:
    """The classified stream: one row per Kafka record."""
    return classify(read_topic(session, settings, bootstrap), anomaly_thresholds(settings))


class _BatchSink:
    """``foreachBatch``: writes each batch through the lake writer of this query's checkpoint."""

    def __init__(self, lake: Lake, settings: Settings, on_batch: BatchCallback | None) -> None:
        self.lake = lake
        self.settings = settings
        self.on_batch = on_batch
        self.totals = RunTotals()
        self.writer: LakeWriter | None = None
        self._started = threading.Event()

    def started(self, stream_id: str) -> None:
        self.writer = LakeWriter(
            self.lake, self.settings.stream_query_name, stream_id, WindowSpec.from_settings(self.settings)
        )
        self._started.set()

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        if not self._started.wait(_START_TIMEOUT_SECONDS) or self.writer is None:
            raise StreamError("the query's id is unknown: its batches cannot be written exactly once")
        started = time.perf_counter()
        classified: pa.Table = batch.toArrow()  # Kafka read + transforms run here, once
        spark_ms = round((time.perf_counter() - started) * 1000)
        figures = batch_figures(self.writer.write_batch(classified, batch_id, {"spark": spark_ms}))
        self.totals.add(figures)
        log.info(describe(figures))
        if self.on_batch is not None:
            self.on_batch(figures)


def _between_triggers(query: StreamingQuery) -> bool:
    """Whether no trigger is running: a draining query is stopped (drained, or switched) only then.

    A stop interrupts a running trigger; one stopped in its first trigger (an empty drain target is
    reached at once: ``smartmeter run --from`` a day with no data) was seen in CI printing a JVM
    stack and a Python traceback while Spark unwound, although nothing was lost.
    """
    return not query.status["isTriggerActive"]


def run_stream(
    settings: Settings,
    *,
    available_now: bool,
    on_batch: BatchCallback | None = None,
    checkpoint: str | None = None,
    drain_file: Path | None = None,
) -> dict[str, Any]:
    """Run the query until it ends; return the run's totals (see :class:`progress.RunTotals`).

    ``drain_file``: run with the processing-time trigger until the :class:`DrainTarget` a publisher
    writes there (possibly later) is read, then stop (``smartmeter run``, publishing meanwhile).
    The bootstrap is resolved here, at every start: a restarted embedded broker has a new address.
    """
    started = time.monotonic()
    bootstrap = resolve_bootstrap(settings.kafka_bootstrap, settings.home)
    lake = Lake.from_settings(settings)
    location = checkpoint or checkpoint_location(settings)
    if lake.is_s3 or location.startswith(("s3a://", "s3://")):
        check_endpoint_trust(s3_endpoint(), s3_ca_bundle())  # an untrusted endpoint: one line, before S3
    security = KafkaSecurity.from_settings(settings)  # checked here: a refused login never reaches Spark
    ensure_topic(
        bootstrap, settings.kafka_topic, settings.kafka_partitions, settings.kafka_replication_factor, security
    )
    guard_topic(
        location, settings.kafka_topic, topic_id(bootstrap, settings.kafka_topic, security), settings.s3_allow_http
    )
    remove_unrenamed_writes(location, settings.s3_allow_http)
    had_session = SparkSession.getActiveSession() is not None
    session = build_session(settings)
    sink = _BatchSink(lake, settings, on_batch)

    log.info(
        "stream %s: kafka source on %s, topic %s -> %s (checkpoint %s)%s",
        settings.stream_query_name, bootstrap, settings.kafka_topic, lake.root, location,
        " until caught up" if available_now else (f" until drained ({drain_file})" if drain_file else ""),
    )  # fmt: skip
    query_input = build_query_input(session, settings, bootstrap)

    def start(trigger: dict[str, Any]) -> StreamingQuery:
        query = (
            query_input.writeStream.queryName(settings.stream_query_name)
            .option("checkpointLocation", location)
            .foreachBatch(sink)
            .trigger(**trigger)
            .start()
        )
        sink.started(str(query.id))  # the checkpoint's identity: stable across restarts on it
        return query

    # Draining keeps the processing-time trigger while days are published: a 1 s trigger there
    # splits the replay's first minute into more, smaller batches; at D=14 (3.6 M readings) it cost
    # the driver JVM 0.8-10 CPU-s and the run 2-7 s, in three pairs of runs out of three.
    processing_time = {"processingTime": f"{settings.spark_trigger_seconds} seconds"}
    query = start({"availableNow": True} if available_now else processing_time)
    # Draining: "ticking" while days are published, "finishing" once the rest is handed to an
    # available-now query, "ticking again" should that one end short of the target.
    phase = "ticking"
    try:
        while True:
            query.awaitTermination(_DRAIN_POLL_SECONDS if drain_file is not None else 1.0)
            error = query.exception()
            if error is not None:
                raise StreamError(f"stream {settings.stream_query_name} failed: {error}")
            if drain_file is None:
                if query.isActive:
                    continue
                break
            if query.isActive and not _between_triggers(query):
                continue
            target = DrainTarget.read(drain_file)  # None while publishing goes on
            if target is not None and target.reached(query.lastProgress):
                log.info("stream %s: drained: every record up to the drain target is in the lake", query.name)
                break
            if not query.isActive:
                if phase != "finishing":  # stopped by someone else
                    break
                # The available-now query ended short of the target (never seen: it reads the
                # offsets present when it starts, and the target was written before): wait with
                # ticks again, as before publishing ended.
                query = start(processing_time)
                phase = "ticking again"
            elif phase == "ticking" and target is not None:
                # Publishing is over: the rest is read back to back. A processing-time trigger
                # that ends before the next multiple of its interval waits for it, and once
                # publishing stops a batch of 500k takes 3.3-3.7 s (seen waiting up to ~1 s per
                # 5 s tick). Stopped between triggers, the query resumes from its checkpoint like
                # any restart.
                query.stop()
                log.info("stream %s: publishing ended: the rest is read without waiting for ticks", query.name)
                query = start({"availableNow": True})
                phase = "finishing"
    finally:
        if query.isActive:
            query.stop()
        if not had_session:
            session.stop()
    result = sink.totals.as_dict(time.monotonic() - started)
    result["source"] = "kafka"
    return result
