"""Live benchmark: every UK meter's rate published for minutes while the stream runs live.

30 M meters read half-hourly make 16,700 readings/s. This publishes generated full-scale days
(5,566 meters, 14 contract fields, the project's own publisher) paced at that rate: each day's
half-hours leave in event order, one every 1800/speedup seconds. Meanwhile the stream runs as in
production (``python -m smartmeter_assets.stream``, processing-time trigger), and a watcher polls
``raw/``'s Delta log: every file a new version adds is read, and each of its rows counts as
visible at that moment. Printed:

- publish-to-lake latency per reading (the moment its half-hour was due to be published -> the
  poll that first saw it in ``raw/``; the poll runs every 0.5 s), p50 / p95 / max;
- the stream's lag (broker end offsets minus committed offsets) sampled every
  :data:`LAG_SAMPLE_SECONDS`: first, last, max, the mean of the first and last thirds, and its
  least-squares trend over the run (no growth means the stream keeps up). The lag rises between
  triggers and falls at each commit, so it is sampled at a period no multiple of the trigger's:
  at the trigger's own 5 s every sample fell at about the same point of that cycle, drifting
  slowly, and the thirds compared points of the cycle rather than the stream's pace;
- the rate actually published, the rows landed, the batches, and peak RSS per component.

    .venv/bin/python benchmarks/live.py --minutes 10 --rate 16700

Goal: p95 <= 10 s with no growth in lag. Figures depend on the machine and on what else runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from smartmeter_assets.contracts import RAW
from smartmeter_assets.enrich import enrich_readings
from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.kafka.broker import EmbeddedBroker
from smartmeter_assets.kafka.publish import publish_readings
from smartmeter_assets.kafka.topic import ensure_topic
from smartmeter_assets.lake.delta import open_table
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.lag import measure_lag

sys.path.insert(0, str(Path(__file__).resolve().parent))
from process_tree import TreeSampler
from publish import staged_inputs

NATIONAL_RATE = 16_700  # 30 M meters, one reading each per half-hour
METERS = 5_566
HALF_HOUR = 1800.0
FIRST_DAY = date(2013, 1, 1)
P95_GOAL_SECONDS = 10.0


@dataclass
class Visibility:
    """Readings seen in ``raw/``: per reading time, how many and when first seen."""

    seen_files: set[str] = field(default_factory=set)
    latencies: list[tuple[float, int]] = field(default_factory=list)  # (seconds, readings)
    rows: int = 0
    versions: int = 0


def watch_raw(lake: Lake, due: dict[datetime, float], seen: Visibility, stop: threading.Event) -> None:
    """Poll the raw table's log; read the files each new version adds; time each reading."""
    version = None
    while not stop.wait(0.5):
        table = open_table(lake, RAW)
        if table is None or table.version() == version:
            continue
        now, version = time.time(), table.version()
        seen.versions += 1
        for uri in table.file_uris():
            if uri in seen.seen_files:
                continue
            seen.seen_files.add(uri)
            stamps = pq.read_table(uri.removeprefix("file://"), columns=["timestamp"])["timestamp"]
            for entry in pc.value_counts(stamps).to_pylist():
                moment, count = entry["values"].replace(tzinfo=None), entry["counts"]
                if moment in due:
                    seen.latencies.append((now - due[moment], int(count)))
                seen.rows += int(count)


#: Seconds between lag samples: no divisor or multiple of a whole-second trigger (see the docstring).
LAG_SAMPLE_SECONDS = 1.7


def sample_lag(settings: Settings, samples: list[tuple[float, int]], stop: threading.Event) -> None:
    started = time.monotonic()
    while not stop.wait(LAG_SAMPLE_SECONDS):
        lag = measure_lag(settings)
        if lag is not None:
            samples.append((time.monotonic() - started, lag.total))


def percentile(latencies: list[tuple[float, int]], share: float) -> float:
    ordered = sorted(latencies)
    total = sum(n for _, n in ordered)
    running = 0
    for seconds, count in ordered:
        running += count
        if running >= share * total:
            return seconds
    return ordered[-1][0] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=NATIONAL_RATE, help="readings/s to publish")
    parser.add_argument("--trigger-seconds", type=float, help="stream trigger (default: the setting's)")
    parser.add_argument("--workdir", type=Path)
    arguments = parser.parse_args()
    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="smartmeter-live-"))
    readings_per_day = METERS * 48
    speedup = arguments.rate * 86_400 / readings_per_day
    days = 1 + max(1, int(np.ceil(arguments.minutes * 60 * arguments.rate / readings_per_day)))  # + warm-up
    print(f"load average at start: {os.getloadavg()}; {days} days of {METERS:,} meters at speedup x{speedup:,.0f}")

    prepared = []
    for number in range(days):
        day = FIRST_DAY + timedelta(days=number)
        staged, households, hourly, daily = staged_inputs(readings_per_day, seed=number, day=day)
        enriched, _ = enrich_readings(staged, households, hourly, daily)
        prepared.append((day, enriched.sort_values("timestamp", kind="stable")))

    broker = EmbeddedBroker(home=workdir / "broker")
    broker.start()
    overrides = {"home": workdir, "kafka_bootstrap": broker.bootstrap, "kafka_topic": "live-bench"}
    if arguments.trigger_seconds:
        overrides["spark_trigger_seconds"] = arguments.trigger_seconds
    settings = Settings(**overrides)
    ensure_topic(broker.bootstrap, settings.kafka_topic, settings.kafka_partitions)
    env = {**os.environ, **settings.to_env(), "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
           "SPARK_LOCAL_IP": "127.0.0.1"}  # fmt: skip
    log_file = workdir / "stream.log"
    with log_file.open("wb") as log:
        stream = subprocess.Popen([sys.executable, "-m", "smartmeter_assets.stream"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)  # fmt: skip
    sampler = TreeSampler(os.getpid())
    due: dict[datetime, float] = {}
    seen, lags, stop = Visibility(), [], threading.Event()
    lake = Lake.from_settings(settings)
    watchers = [
        threading.Thread(target=watch_raw, args=(lake, due, seen, stop), daemon=True),
        threading.Thread(target=sample_lag, args=(settings, lags, stop), daemon=True),
    ]
    for watcher in watchers:
        watcher.start()
    # Live means already running: one day published at full speed warms the stream (JVM start, the
    # first batch's planning and code generation) and is left out of the figures.
    warm_day, warm = prepared[0]
    warmed = publish_readings(warm, broker.bootstrap, settings.kafka_topic, settings.kafka_partitions).records
    while seen.rows < warmed:
        time.sleep(0.5)
    print(f"warmed: {warmed:,} readings of {warm_day} in raw/; pacing from now", flush=True)
    seen.latencies.clear()
    lags.clear()
    published, started = 0, time.time()
    try:
        for day, enriched in prepared[1:]:
            day_start = time.time()
            for slot in range(48):
                due[datetime(day.year, day.month, day.day) + timedelta(minutes=30 * slot)] = (
                    day_start + slot * HALF_HOUR / speedup
                )
            report = publish_readings(enriched, broker.bootstrap, settings.kafka_topic, settings.kafka_partitions,
                                      speedup=speedup, processes=1)  # fmt: skip
            published += report.records
        publish_seconds = time.time() - started
        deadline = time.time() + 120
        while seen.rows < warmed + published and time.time() < deadline:
            time.sleep(0.5)
    finally:
        stop.set()
        stream.send_signal(signal.SIGTERM)
        stream.wait(60)
        usage = sampler.stop()
        broker.stop()

    p50, p95 = percentile(seen.latencies, 0.5), percentile(seen.latencies, 0.95)
    second_half = seen.latencies[len(seen.latencies) // 2 :]  # in the order they were seen
    worst = max(s for s, _ in seen.latencies) if seen.latencies else float("nan")
    third = max(1, len(lags) // 3)
    first_mean = sum(n for _, n in lags[:third]) / third if lags else float("nan")
    last_mean = sum(n for _, n in lags[-third:]) / third if lags else float("nan")
    lines = log_file.read_text(errors="replace").splitlines()
    batches = sum(1 for line in lines if " batch " in line and " rows in " in line)
    print(f"published {published:,} readings in {publish_seconds:,.0f} s = {published / publish_seconds:,.0f}/s "
          f"(asked {arguments.rate:,}/s); landed in raw/ {seen.rows - warmed:,} (+ {warmed:,} warm-up) "
          f"in {seen.versions} versions, {batches} batches")  # fmt: skip
    print(f"publish-to-lake latency: p50 {p50:.1f} s, p95 {p95:.1f} s, max {worst:.1f} s "
          f"(goal p95 <= {P95_GOAL_SECONDS}); second half of the run: p50 {percentile(second_half, 0.5):.1f} s, "
          f"p95 {percentile(second_half, 0.95):.1f} s")  # fmt: skip
    if lags:
        print(f"lag (records): first {lags[0][1]:,}, last {lags[-1][1]:,}, max {max(n for _, n in lags):,}; "
              f"mean of first third {first_mean:,.0f}, of last third {last_mean:,.0f}")  # fmt: skip
    if len(lags) > 1:
        per_second = float(np.polyfit([t for t, _ in lags], [n for _, n in lags], 1)[0])
        span = lags[-1][0] - lags[0][0]
        print(f"lag trend: {per_second * 60:+,.0f} records/min, {per_second * span:+,.0f} over the "
              f"{span / 60:.1f} min sampled ({len(lags)} samples every {LAG_SAMPLE_SECONDS} s), against "
              f"{arguments.rate * settings.spark_trigger_seconds:,.0f} published per trigger")  # fmt: skip
    print(f"peak RSS MB {({k: round(v) for k, v in usage.peak_rss_mb.items()})}; "
          f"CPU s {({k: round(v, 1) for k, v in usage.cpu_seconds().items()})}")  # fmt: skip
    print(f"load average at end: {os.getloadavg()}; stream log {log_file}")
    return 0 if seen.rows == warmed + published else 1


if __name__ == "__main__":
    run_entry_point(main)
