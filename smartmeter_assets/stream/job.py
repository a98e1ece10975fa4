"""The stream job: Kafka -> classify -> the lake, as one Spark Structured Streaming query.

``run_stream`` is what both launchers call: ``python -m smartmeter_assets.stream`` (Dagster Pipes
or a terminal) and ``spark-submit .../smartmeter_assets/stream/__main__.py`` in production. It
blocks until the query ends (``available_now``: when everything published at start is in the
lake) and raises if the query failed, so a dead job can never look like a success.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from smartmeter_assets.kafka.broker import resolve_bootstrap
from smartmeter_assets.lake.progress import record_batch
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.checkpoint import checkpoint_location
from smartmeter_assets.stream.kafka_source import read_kafka
from smartmeter_assets.stream.lake_writer import BatchWrite, LakeWriter
from smartmeter_assets.stream.progress import batch_figures, describe, progress_dict, totals
from smartmeter_assets.stream.session import build_session
from smartmeter_assets.stream.transforms import anomaly_thresholds, classify
from smartmeter_assets.stream.window import WindowSpec

log = logging.getLogger(__name__)

BatchCallback = Callable[[dict[str, Any]], None]


class StreamError(RuntimeError):
    """The streaming query stopped with an error."""


class _Batches:
    """Joins each batch's lake figures (from foreachBatch) with Spark's progress for it."""

    def __init__(self, topic: str, on_batch: BatchCallback | None) -> None:
        self.topic = topic
        self.on_batch = on_batch
        self.writes: dict[int, BatchWrite] = {}
        self.reported: list[dict[str, Any]] = []
        self._seen: set[int] = set()

    def drain(self, progresses: list[Any]) -> None:
        for raw in progresses:
            progress = progress_dict(raw)
            batch_id = int(progress["batchId"])
            if batch_id in self._seen or batch_id not in self.writes:
                continue  # idle triggers report progress too; only batches that ran count
            self._seen.add(batch_id)
            figures = batch_figures(progress, self.writes.pop(batch_id), self.topic)
            self.reported.append(figures)
            log.info(describe(figures))
            if self.on_batch is not None:
                self.on_batch(figures)


def build_query_input(session: SparkSession, settings: Settings, bootstrap: str) -> tuple[DataFrame, str]:
    """The classified stream (one row per Kafka record) and the source kind used."""
    kafka_rows, kind = read_kafka(session, settings, bootstrap)
    return classify(kafka_rows, anomaly_thresholds(settings)), kind.value


def run_stream(
    settings: Settings,
    *,
    available_now: bool,
    on_batch: BatchCallback | None = None,
    checkpoint: str | None = None,
) -> dict[str, Any]:
    """Run the query until it ends; return the run's totals (see :func:`progress.totals`).

    The bootstrap is resolved here, at every start: a restarted embedded broker has a new address.
    """
    started = time.monotonic()
    bootstrap = resolve_bootstrap(settings.kafka_bootstrap, settings.home)
    lake = Lake.from_settings(settings)
    location = checkpoint or checkpoint_location(settings)
    had_session = SparkSession.getActiveSession() is not None
    session = build_session(settings)
    writer = LakeWriter(lake, settings.stream_query_name, WindowSpec.from_settings(settings))

    def report(figures: dict[str, Any]) -> None:
        # kept in the lake too (once per batch id), for the checks and anyone after the fact
        record_batch(lake, settings.stream_query_name, figures)
        if on_batch is not None:
            on_batch(figures)

    batches = _Batches(settings.kafka_topic, report)

    def write_batch(batch: DataFrame, batch_id: int) -> None:
        started = time.perf_counter()
        classified: pa.Table = batch.toArrow()  # Kafka read + transforms run here, once
        spark_ms = round((time.perf_counter() - started) * 1000)
        written = writer.write_batch(classified, batch_id)
        written.step_ms = {"spark": spark_ms, **written.step_ms}
        batches.writes[batch_id] = written

    classified, kind = build_query_input(session, settings, bootstrap)
    log.info(
        "stream %s: %s source on %s, topic %s -> %s (checkpoint %s)%s",
        settings.stream_query_name, kind, bootstrap, settings.kafka_topic, lake.root, location,
        " until caught up" if available_now else "",
    )  # fmt: skip
    writer_stream = (
        classified.writeStream.queryName(settings.stream_query_name)
        .option("checkpointLocation", location)
        .foreachBatch(write_batch)
    )
    if available_now:
        writer_stream = writer_stream.trigger(availableNow=True)
    else:
        writer_stream = writer_stream.trigger(processingTime=f"{settings.spark_trigger_seconds} seconds")
    query = writer_stream.start()
    try:
        while query.isActive:
            query.awaitTermination(1.0)
            batches.drain(query.recentProgress)
        batches.drain(query.recentProgress)
        error = query.exception()
        if error is not None:
            raise StreamError(f"stream {settings.stream_query_name} failed: {error}")
    finally:
        if query.isActive:
            query.stop()
        if not had_session:
            session.stop()
    result = totals(batches.reported, time.monotonic() - started)
    result["source"] = kind
    return result
