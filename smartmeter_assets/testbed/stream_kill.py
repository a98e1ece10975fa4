"""Kill the stream job with SIGKILL at random moments, restart it, and check the lake after.

Shared by the kill test (few rounds) and ``benchmarks/kill_stream.py`` (many). The job runs as
its own process group (``python -m smartmeter_assets.stream --available-now``, its JVM and Python
workers), and the whole group gets ``kill -9``, as when a machine dies.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from smartmeter_assets.contracts import RAW, REJECTED, TIMESTAMP_FORMAT
from smartmeter_assets.lake.delta import read_table
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.reconcile import reconcile_aggregates
from smartmeter_assets.stream.window import WindowSpec
from smartmeter_assets.testbed.stream_readings import Published, ensure_topic, publish


@dataclass
class KillReport:
    rounds: int = 0
    kills: int = 0
    clean_exits: int = 0
    published_messages: int = 0
    readings: int = 0
    poison: int = 0
    raw_rows: int = 0
    rejected_rows: int = 0
    problems: list[str] = field(default_factory=list)


def job_environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTMETER_", "DAGSTER_PIPES"))}
    env.update(settings.to_env())
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    return env


def start_job(settings: Settings, log_file: Path) -> subprocess.Popen[bytes]:
    with log_file.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "smartmeter_assets.stream", "--available-now"],
            env=job_environment(settings),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the JVM and workers die with it
        )


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until no process of the group is left
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)


def check_lake(settings: Settings, published: Published) -> list[str]:
    """Every published reading in raw/ once, every poison message in rejected/ once, aggregates right."""
    lake = Lake.from_settings(settings)
    problems: list[str] = []
    raw = read_table(lake, RAW, columns=["meter_id", "timestamp", "kafka_partition", "kafka_offset"])
    stamps = [stamp.strftime(TIMESTAMP_FORMAT) for stamp in raw["timestamp"].to_pylist()]
    keys = list(zip(raw["meter_id"].to_pylist(), stamps, strict=True))
    if len(keys) != len(set(keys)):
        problems.append(f"{len(keys) - len(set(keys))} readings twice in raw/")
    missing, extra = published.readings - set(keys), set(keys) - published.readings
    if missing or extra:
        problems.append(f"raw/: {len(missing)} published readings missing, {len(extra)} unexpected")
    rejected = read_table(lake, REJECTED, columns=["kafka_partition", "kafka_offset"])
    coordinates = list(zip(rejected["kafka_partition"].to_pylist(), rejected["kafka_offset"].to_pylist(), strict=True))
    if len(coordinates) != len(set(coordinates)):
        problems.append("a Kafka record twice in rejected/")
    if rejected.num_rows != published.poison:
        problems.append(f"rejected/ has {rejected.num_rows} rows, {published.poison} poison messages were published")
    raw_coordinates = set(zip(raw["kafka_partition"].to_pylist(), raw["kafka_offset"].to_pylist(), strict=True))
    if raw_coordinates & set(coordinates):
        problems.append("a Kafka record in both raw/ and rejected/")
    problems += [f"aggregated/: {p}" for p in reconcile_aggregates(lake, WindowSpec.from_settings(settings))]
    return problems


def kill_rounds(
    settings: Settings,
    *,
    rounds: int,
    readings_per_round: int,
    meters: int,
    log_folder: Path,
    seed: int = 5,
    kill_after: tuple[float, float] = (4.0, 20.0),
    say: Callable[[str], None] = lambda _: None,
) -> KillReport:
    """Publish, run, kill -9 at a random moment; ``rounds`` times; then run to the end and check."""
    rng = random.Random(seed)
    report = KillReport()
    bootstrap = settings.kafka_bootstrap
    ensure_topic(bootstrap, settings.kafka_topic, settings.kafka_partitions)
    published = Published()
    log_file = log_folder / "stream-job.log"
    for number in range(rounds):
        first = number * readings_per_round
        publish(bootstrap, settings.kafka_topic, first, readings_per_round, meters, poison_every=997, into=published)
        if number % 3 == 2:  # now and then a re-published stretch, as a replayed day
            publish(bootstrap, settings.kafka_topic, first, readings_per_round // 4, meters, into=published)
        process = start_job(settings, log_file)
        wait = rng.uniform(*kill_after)
        try:
            code = process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            kill_group(process)
            report.kills += 1
            say(f"round {number + 1}: killed after {wait:.1f}s")
        else:
            report.clean_exits += 1
            say(f"round {number + 1}: finished before the kill ({wait:.1f}s), exit {code}")
            if code != 0:
                report.problems.append(f"round {number + 1}: the job exited with {code} (see {log_file})")
        report.rounds += 1
    process = start_job(settings, log_file)
    code = process.wait(timeout=900)
    if code != 0:
        report.problems.append(f"the final run exited with {code} (see {log_file})")
    report.published_messages = published.messages
    report.readings, report.poison = len(published.readings), published.poison
    lake = Lake.from_settings(settings)
    report.raw_rows = read_table(lake, RAW, columns=["meter_id"]).num_rows
    report.rejected_rows = read_table(lake, REJECTED, columns=["reason"]).num_rows
    report.problems += check_lake(settings, published)
    return report
