"""Stream benchmark: readings/s through the Spark job on local[2], from a topic holding N readings.

For each N: a fresh embedded broker, N contract readings published (lz4), then two runs of
``availableNow`` as separate processes:

1. the source alone (Spark's ``kafka`` source -> Spark's ``noop`` sink): what reading Kafka costs;
2. the whole job (``python -m smartmeter_assets.stream --available-now``): source, transforms,
   collect to the driver, the four Delta tables.

Printed per N: rows/s inside the query (sum of rows / sum of batch durations in ``foreachBatch``:
JVM start left out), the steady rate after the first batch (rows of batches 2.. over the wall-clock
time from the end of the first batch to the end of the last: Spark's planning and commits between
batches included), rows/s wall-clock (JVM start included), peak RSS of the job's process tree (driver JVM, its Python
driver and Python workers) and of the JVM alone, then how each grows with N.

    .venv/bin/python benchmarks/stream.py --readings 100000 --readings 1000000 --readings 5000000

Figures depend on the machine and on what else runs on it: read the ratios, not the absolutes.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.kafka.broker import EmbeddedBroker
from smartmeter_assets.settings import Settings
from smartmeter_assets.testbed.stream_kill import job_environment
from smartmeter_assets.testbed.stream_readings import ensure_topic, reading

REPO = Path(__file__).resolve().parent.parent

TARGET_ROWS_PER_SECOND = 60_000
METERS = 5_000
_BATCH_LINE = re.compile(r"^(\S+ \S+) INFO .*?batch (\d+): (\d+) rows in (\d+) ms", re.MULTILINE)
_STEPS = re.compile(r"steps ms (\{[^}]*\})")


@dataclass
class Run:
    rows: int = 0
    query_ms: int = 0
    wall_seconds: float = 0.0
    peak_tree_mb: float = 0.0
    peak_jvm_mb: float = 0.0
    batches: int = 0
    first_batch: tuple[int, int] = (0, 0)  # (rows, ms): includes starting the Python workers
    first_end: float = 0.0  # when the first batch ended (log time, seconds)
    last_end: float = 0.0
    totals: dict[str, Any] = field(default_factory=dict)
    cpu_by_pid: dict[int, float] = field(default_factory=dict)  # CPU seconds of every process of the tree
    step_ms: dict[str, int] = field(default_factory=dict)  # summed over batches: where the time went

    @property
    def cpu_us_per_row(self) -> float:
        """CPU time of the whole tree per row (JVM start included): a figure the machine's load
        bends far less than a rate does."""
        return sum(self.cpu_by_pid.values()) * 1e6 / self.rows if self.rows else 0.0

    @property
    def query_rate(self) -> float:
        return self.rows / (self.query_ms / 1000) if self.query_ms else 0.0

    @property
    def steady_rate(self) -> float:
        """Rows/s after the first batch (which pays for Python worker start-up and JIT warm-up),
        over wall-clock time: everything Spark does between batches counts."""
        rows, seconds = self.rows - self.first_batch[0], self.last_end - self.first_end
        return rows / seconds if seconds > 0 and self.batches > 1 else 0.0

    @property
    def wall_rate(self) -> float:
        return self.rows / self.wall_seconds if self.wall_seconds else 0.0


def publish_fast(bootstrap: str, topic: str, count: int) -> float:
    """Publish ``count`` readings as fast as this machine can (librdkafka when installed)."""
    started = time.monotonic()
    try:
        from confluent_kafka import Producer
    except ImportError:
        from smartmeter_assets.testbed.stream_readings import publish

        publish(bootstrap, topic, 0, count, METERS)
        return time.monotonic() - started
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": "lz4",
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        }
    )
    for index in range(count):
        body = reading(index, METERS)
        while True:
            try:
                producer.produce(topic, key=body["meter_id"].encode(), value=json.dumps(body).encode())
                break
            except BufferError:
                producer.poll(0.1)
        if index % 10_000 == 0:
            producer.poll(0)
    producer.flush()
    return time.monotonic() - started


def _watch_memory(root: psutil.Process, run: Run, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            processes = [root, *root.children(recursive=True)]
            tree = jvm = 0
            for process in processes:
                try:
                    times = process.cpu_times()
                    run.cpu_by_pid[process.pid] = max(run.cpu_by_pid.get(process.pid, 0.0), times.user + times.system)
                    rss = process.memory_info().rss
                    tree += rss
                    if process.name().startswith("java"):
                        jvm += rss
                except psutil.Error:
                    continue
            run.peak_tree_mb = max(run.peak_tree_mb, tree / 2**20)
            run.peak_jvm_mb = max(run.peak_jvm_mb, jvm / 2**20)
        except psutil.Error:
            pass
        stop.wait(0.5)


def run_process(command: list[str], env: dict[str, str], log_file: Path) -> Run:
    run = Run()
    started = time.monotonic()
    with log_file.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO)
        stop = threading.Event()
        watcher = threading.Thread(target=_watch_memory, args=(psutil.Process(process.pid), run, stop))
        watcher.start()
        code = process.wait()
        stop.set()
        watcher.join()
    run.wall_seconds = time.monotonic() - started
    text = log_file.read_text(errors="replace")
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {code}; log: {log_file}\n{text[-3000:]}")
    for steps in _STEPS.finditer(text):
        for step, ms in ast.literal_eval(steps.group(1)).items():
            run.step_ms[step] = run.step_ms.get(step, 0) + int(ms)
    for match in _BATCH_LINE.finditer(text):
        ended = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        rows, ms = int(match.group(3)), int(match.group(4))
        if run.batches == 0:
            run.first_batch, run.first_end = (rows, ms), ended
        run.last_end = ended
        run.batches += 1
        run.rows += rows
        run.query_ms += ms
    finished = re.search(r"stream finished: (\{.*\})", text)
    if finished:
        run.totals = ast.literal_eval(finished.group(1))
    return run


def source_only() -> None:
    """Subprocess mode: the Kafka source into Spark's noop sink, batch figures on stdout."""
    import logging

    from smartmeter_assets.kafka.broker import resolve_bootstrap
    from smartmeter_assets.stream.session import build_session
    from smartmeter_assets.stream.source import read_topic

    logging.basicConfig(level=logging.INFO)
    settings = Settings()
    session = build_session(settings)
    frame = read_topic(session, settings, resolve_bootstrap(settings.kafka_bootstrap, settings.home))
    checkpoint = tempfile.mkdtemp(prefix="source-bench-")
    query = frame.writeStream.format("noop").option("checkpointLocation", checkpoint).trigger(availableNow=True).start()
    query.awaitTermination()
    for progress in query.recentProgress:
        data = json.loads(progress.json)
        if data["numInputRows"]:
            duration = data["durationMs"]["triggerExecution"]
            ended = datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00")).timestamp() + duration / 1000
            stamp = datetime.fromtimestamp(ended).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
            print(f"{stamp} INFO batch {data['batchId']}: {data['numInputRows']} rows in {duration} ms", flush=True)
            print(f"  durations {data['durationMs']}", flush=True)
    session.stop()
    shutil.rmtree(checkpoint, ignore_errors=True)


def bench(readings: int, max_records: int, with_source: bool) -> tuple[Run | None, Run, float]:
    home = Path(tempfile.mkdtemp(prefix="stream-bench-"))
    try:
        with EmbeddedBroker(home=home) as broker:
            settings = Settings(
                home=home,
                kafka_topic=f"bench-{uuid.uuid4().hex[:6]}",
                spark_max_records_per_batch=max_records,
            )
            ensure_topic(broker.bootstrap, settings.kafka_topic, settings.kafka_partitions)
            publish_seconds = publish_fast(broker.bootstrap, settings.kafka_topic, readings)
            env = job_environment(settings)
            source = None
            if with_source:
                source = run_process([sys.executable, __file__, "--source-only"], env, home / "source.log")
            job = run_process(
                [sys.executable, "-m", "smartmeter_assets.stream", "--available-now"], env, home / "job.log"
            )
            if job.totals.get("raw_rows_written") != readings:
                raise RuntimeError(f"the job wrote {job.totals.get('raw_rows_written')} of {readings} readings")
            return source, job, publish_seconds
    finally:
        if os.environ.get("STREAM_BENCH_KEEP"):
            print(f"logs kept in {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, action="append", help="N (repeatable); default 100000")
    parser.add_argument("--max-records", type=int, default=Settings().spark_max_records_per_batch)
    parser.add_argument("--no-source", action="store_true", help="skip the source-alone run")
    parser.add_argument("--source-only", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.source_only:
        source_only()
        return
    sizes = arguments.readings or [100_000]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"stream benchmark on local[2], {os.cpu_count()} cores (load average {load}); "
        f"max {arguments.max_records} records per batch"
    )
    header = (
        f"{'N':>9} {'publish/s':>10} {'source rows/s':>14} {'job rows/s':>11} {'job wall/s':>11} "
        f"{'batches':>7} {'peak tree MB':>12} {'peak JVM MB':>11} {'CPU us/row':>10}"
    )
    print(header)
    results = []
    for n in sizes:
        source, job, publish_seconds = bench(n, arguments.max_records, not arguments.no_source)
        results.append((n, source, job))
        source_rate = f"{source.query_rate:14,.0f}" if source else f"{'-':>14}"
        print(
            f"{n:>9,} {n / publish_seconds:>10,.0f} {source_rate} {job.query_rate:>11,.0f} "
            f"{job.wall_rate:>11,.0f} {job.batches:>7} {job.peak_tree_mb:>12,.0f} {job.peak_jvm_mb:>11,.0f} "
            f"{job.cpu_us_per_row:>10,.1f}",
            flush=True,
        )
    print()
    for n, source, job in results:
        steady = f" ({job.steady_rate:,.0f} after the first batch)" if job.steady_rate else ""
        # the target is the steady rate (the first batch pays for the Python workers and the JIT)
        verdict = "meets" if job.steady_rate >= TARGET_ROWS_PER_SECOND else "below"
        share = ""
        if source and source.query_rate:
            # time per row: source alone vs the whole job; the rest is transforms + lake writes
            source_part = job.query_rate / source.query_rate
            share = f"; the source is {source_part:.0%} of the job's time per row"
        print(
            f"N={n:,}: job {job.query_rate:,.0f} rows/s{steady}, {verdict} the {TARGET_ROWS_PER_SECOND:,} steady target"
            f"{share}"
        )
        total = sum(job.step_ms.values()) or 1
        profile = ", ".join(f"{step} {ms / total:.0%}" for step, ms in job.step_ms.items())
        print(f"  where a batch's time goes (spark = Kafka read + parse + transforms + toArrow): {profile}")
    if len(results) > 1:
        (n0, _, first), (n1, _, last) = results[0], results[-1]
        print(
            f"growth {n0:,} -> {n1:,} (x{n1 / n0:.0f}): rows/s x{last.query_rate / first.query_rate:.2f}, "
            f"peak tree RSS x{last.peak_tree_mb / first.peak_tree_mb:.2f}, "
            f"peak JVM RSS x{last.peak_jvm_mb / first.peak_jvm_mb:.2f}"
        )


if __name__ == "__main__":
    run_entry_point(main)  # the benchmark's status, never a library's crash at exit
