"""Publish benchmark: enrich + serialise + produce N generated readings to the embedded Apache Kafka broker.

Prints readings/s and CPU per reading per stage and for the whole publish, plus two ratios measured
in the same run: against the naive baseline (the original pipeline's way without its sleep:
``json.dumps`` per row, ``send`` per row with kafka-python's defaults, one ``flush``) and against
kafka-python given the same bulk-encoded values, explicit partitions, lz4, ``acks=all`` and
idempotence (the publisher's client until librdkafka replaced it), so that comparison is client
against client. The CPU per reading is what a run shares with the Spark job on the same cores.

    .venv/bin/python benchmarks/publish.py --readings 270000     # one full-dataset day

Figures depend on the machine and on what else runs on it: read the ratios, not the absolutes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from smartmeter_assets.contracts import (
    ACORN_CATEGORIES,
    ACORN_GROUPS,
    TARIFFS,
)
from smartmeter_assets.enrich import enrich_readings
from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.kafka.broker import EmbeddedBroker
from smartmeter_assets.kafka.message import encode_keys, encode_values, ingestion_timestamp, partitions_for_meters
from smartmeter_assets.kafka.publish import ProducerTuning, publish_readings
from smartmeter_assets.kafka.topic import ensure_topic

DAY = date(2013, 1, 15)
PARTITIONS = 6


@dataclass
class Stage:
    name: str
    readings: int
    seconds: float
    cpu: float  # CPU seconds of this process and the producer processes it waited for

    @property
    def rate(self) -> float:
        return self.readings / self.seconds if self.seconds > 0 else float("inf")

    @property
    def cpu_per_reading_us(self) -> float:
        return self.cpu / self.readings * 1e6 if self.readings else 0.0


def staged_inputs(readings: int, seed: int = 7, day: date = DAY) -> tuple[pd.DataFrame, ...]:
    """A day of staged readings for ``readings / 48`` meters, their households and the weather."""
    rng = np.random.default_rng(seed)
    meters = max(1, readings // 48)
    ids = np.array([f"MAC{m:06d}" for m in range(meters)])
    start = pd.Timestamp(day)
    slots = np.arange(readings) // meters % 48
    frame = pd.DataFrame(
        {
            "meter_id": ids[np.arange(readings) % meters],
            "timestamp": start + pd.to_timedelta(slots * 30, unit="min"),
            "energy_kwh": rng.gamma(1.2, 0.18, readings).round(3),
            "reading_date": day,
        }
    )
    known = ids[: int(meters * 0.98)]  # 2% unknown households, as in real copies
    households = pd.DataFrame(
        {
            "meter_id": known,
            "tariff_type": rng.choice(TARIFFS, len(known)),
            "acorn_group": rng.choice(ACORN_GROUPS, len(known)),
            "acorn_category": rng.choice(ACORN_CATEGORIES, len(known)),
            "block": [f"block_{i % 112}" for i in range(len(known))],
        }
    )
    hours = pd.date_range(start - timedelta(hours=1), periods=26, freq="h").delete(7)  # one hour missing
    hourly = pd.DataFrame(
        {
            "time": hours,
            "temperature": rng.normal(6, 3, len(hours)).round(2),
            "apparent_temperature": rng.normal(4, 3, len(hours)).round(2),
            "dew_point": rng.normal(2, 2, len(hours)).round(2),
            "humidity": rng.uniform(0.6, 1, len(hours)).round(2),
            "pressure": rng.normal(1010, 8, len(hours)).round(2),
            "wind_speed": rng.uniform(0, 8, len(hours)).round(2),
            "wind_bearing": rng.integers(0, 360, len(hours)).astype(float),
            "visibility": rng.uniform(2, 14, len(hours)).round(2),
            "precip_type": "rain",
            "icon": "partly-cloudy-night",
            "weather_summary": rng.choice(["Partly Cloudy", "Mostly Cloudy", "Overcast", "Clear"], len(hours)),
        }
    )
    daily = pd.DataFrame(
        {
            "day": [day - timedelta(days=1), day, day + timedelta(days=1)],
            "cloud_cover": [0.4, 0.71, 0.2],
            "temperature_min": 1.0,
            "temperature_max": 9.0,
            "humidity": 0.8,
            "wind_speed": 3.0,
            "pressure": 1010.0,
            "uv_index": 1.0,
            "summary": "Mostly cloudy throughout the day.",
        }
    )
    return frame, households, hourly, daily


def _cpu_now() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def timed(action: Callable[[], object]) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds): CPU time does not depend on what else runs, so on a
    shared machine it says what the code costs when the wall clock says what it got."""
    started, cpu = time.perf_counter(), _cpu_now()
    result = action()
    return result, time.perf_counter() - started, _cpu_now() - cpu


def fresh_topic(bootstrap: str, name: str) -> str:
    topic = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    ensure_topic(bootstrap, topic, PARTITIONS)
    return topic


def naive_publish(enriched: pd.DataFrame, bootstrap: str, topic: str) -> int:
    """The original pipeline's way, minus its sleep: a dict, json.dumps and send per row."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, allow_auto_create_topics=False)
    futures = []
    for row in enriched.to_dict("records"):
        row = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        row["ingestion_time"] = ingestion_timestamp()
        futures.append(producer.send(topic, key=row["meter_id"].encode(), value=json.dumps(row).encode()))
    producer.flush()
    producer.close()
    return sum(1 for f in futures if f.succeeded())


def kafka_python_publish(enriched: pd.DataFrame, bootstrap: str, topic: str) -> int:
    """kafka-python with the same values (bulk-encoded) and partitions, lz4, acks=all, idempotent,
    one process: the publisher's client before librdkafka."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        allow_auto_create_topics=False,
        compression_type="lz4",
        linger_ms=20,
        batch_size=1024 * 1024,
        max_request_size=2 * 1024 * 1024,
    )
    table = pa.Table.from_pandas(enriched, preserve_index=False)
    values = encode_values(table, ingestion_timestamp()).to_pylist()
    keys = encode_keys(table).to_pylist()
    partitions = partitions_for_meters(table["meter_id"], PARTITIONS).tolist()
    send = producer.send
    futures = [send(topic, value=v, key=k, partition=p) for k, v, p in zip(keys, values, partitions, strict=True)]
    producer.flush()
    producer.close()
    return sum(1 for f in futures if f.succeeded())


def profile_one_producer(enriched: pd.DataFrame, bootstrap: str, top: int = 12) -> None:
    """Where one producer process spends its time (cProfile inflates the absolute figures)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    topic = fresh_topic(bootstrap, "profile")
    profiler.enable()
    publish_readings(enriched, bootstrap, topic, PARTITIONS, ProducerTuning(), processes=1)
    profiler.disable()
    print(f"\nprofile of one producer process, {len(enriched):,} readings (top {top} by own time):")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


def run(readings: int, skip_naive: bool = False, profile: bool = False) -> dict[str, object]:
    import psutil

    cores = os.cpu_count() or 1
    staged, households, hourly, daily = staged_inputs(readings)
    stages: list[Stage] = []

    (enriched, _counts), seconds, cpu = timed(lambda: enrich_readings(staged, households, hourly, daily))  # type: ignore[misc]
    enrich = Stage("enrich (join households + weather)", readings, seconds, cpu)
    stages.append(enrich)

    table = pa.Table.from_pandas(enriched, preserve_index=False)
    _, seconds, cpu = timed(lambda: encode_values(table, ingestion_timestamp()).to_pylist())
    stages.append(Stage("serialise (bulk JSON, 1 core)", readings, seconds, cpu))

    with EmbeddedBroker() as broker:
        bootstrap = broker.bootstrap
        tuning = ProducerTuning()
        topic = fresh_topic(bootstrap, "two")
        two, _, cpu = timed(lambda: publish_readings(enriched, bootstrap, topic, PARTITIONS, tuning, processes=2))
        stages.append(Stage("produce, 2 processes (serialise + send + acks)", two.records, two.seconds, cpu))  # type: ignore[attr-defined]
        topic = fresh_topic(bootstrap, "default")
        broker_cpu = sum(psutil.Process(broker.process.pid).cpu_times()[:2])  # type: ignore[union-attr]
        many, _, cpu = timed(lambda: publish_readings(enriched, bootstrap, topic, PARTITIONS, tuning))
        broker_cpu = sum(psutil.Process(broker.process.pid).cpu_times()[:2]) - broker_cpu  # type: ignore[union-attr]
        processes = many.processes  # type: ignore[attr-defined]
        publish = Stage(f"produce, {processes} process(es) (the publish)", many.records, many.seconds, cpu)  # type: ignore[attr-defined]
        stages.append(publish)
        whole = Stage("whole: enrich + publish", readings, enrich.seconds + publish.seconds, enrich.cpu + publish.cpu)
        stages.append(whole)

        topic = fresh_topic(bootstrap, "kp")
        delivered, seconds, cpu = timed(lambda: kafka_python_publish(enriched, bootstrap, topic))
        baseline = Stage("kafka-python, 1 process (same values)", int(delivered), seconds, cpu)  # type: ignore[call-overload]
        stages.append(baseline)
        naive = None
        if not skip_naive:
            topic = fresh_topic(bootstrap, "naive")
            delivered, seconds, cpu = timed(lambda: naive_publish(enriched, bootstrap, topic))
            naive = Stage("naive: json.dumps + send per row", int(delivered), seconds, cpu)  # type: ignore[call-overload]
            stages.append(naive)
        if profile:
            profile_one_producer(enriched, bootstrap)

    width = max(len(s.name) for s in stages)
    load = os.getloadavg()[0]
    print(f"\npublish benchmark: {readings:,} readings, {PARTITIONS} partitions, {cores} cores, load {load:.1f}")
    print(
        f"{'stage':<{width}}  {'readings':>10}  {'seconds':>8}  {'readings/s':>12}  "
        f"{'CPU s':>6}  {'CPU us/reading':>14}"
    )
    for st in stages:
        print(
            f"{st.name:<{width}}  {st.readings:>10,}  {st.seconds:>8.2f}  {st.rate:>12,.0f}  "
            f"{st.cpu:>6.2f}  {st.cpu_per_reading_us:>14.1f}"
        )
    print(f"(the broker used {broker_cpu:.2f} CPU s for the publish: the Python client is the bottleneck)")
    # Ratios compare like with like: serialise + produce + acks, from the same enriched frame.
    print(f"\nthe publish (librdkafka, {processes} process(es)): {publish.rate:,.0f} readings/s")
    print(
        f"  vs kafka-python (1 process):      x{publish.rate / baseline.rate:.2f} readings/s, "
        f"x{baseline.cpu_per_reading_us / publish.cpu_per_reading_us:.2f} less CPU per reading"
    )
    if naive is not None:
        print(f"  vs naive row-by-row baseline:     x{publish.rate / naive.rate:.2f}")
    # What the whole would reach with the cores to itself: its CPU (the broker's share included)
    # spread over all of them (librdkafka compresses and sends on threads of its own).
    capacity = readings / ((enrich.cpu + publish.cpu + broker_cpu) / cores)
    print(f"whole (enrich + publish): {whole.rate:,.0f} readings/s measured (load {load:.1f})")
    print(f"  CPU-bound estimate with {cores} idle cores: {capacity:,.0f} readings/s")
    print(f"  target 50,000 readings/s for the whole: {'met' if whole.rate >= 50_000 else 'NOT met'} as measured")
    results: dict[str, object] = {"readings": readings, "cpus": cores, "load": round(load, 2)}
    results.update({st.name: round(st.rate) for st in stages})
    results.update(
        {
            "whole_target_met": whole.rate >= 50_000,
            "whole_cpu_bound_estimate": round(capacity),
            "broker_cpu_seconds": round(broker_cpu, 3),
            "ratio_vs_kafka_python": round(publish.rate / baseline.rate, 3),
        }
    )
    if naive is not None:
        results["ratio_vs_naive"] = round(publish.rate / naive.rate, 3)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=270_000, help="readings to publish (default: a day)")
    parser.add_argument("--skip-naive", action="store_true", help="skip the slow row-by-row baseline")
    parser.add_argument("--profile", action="store_true", help="profile one producer process")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args(argv)
    results = run(args.readings, args.skip_naive, args.profile)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    run_entry_point(main)  # the benchmark's status, never a library's crash at exit
