"""``smartmeter cluster check`` (``make cluster-check``): the production topology, broken on purpose.

On a fresh cluster (its own home and its own Dagster database): stage the sample, then publish N
days in four rounds through Dagster (runs stored in Postgres). While the sensor-driven stream
consumes on the Spark cluster, each round ends with one fault, ``kill -9`` of: the Spark driver
(the stream's JVM, in the Dagster run), the Spark worker, the Kafka broker, MinIO. The supervisor
restarts the services, the sensor relaunches a failed stream. Once the stream has caught up the
lake is reconciled (every published reading in raw/ or rejected/, no key twice), Dagster's lake
checks run, and ONE JSON line says what happened. The exit code is non-zero unless
raw + rejected = published, 0 duplicate keys, every fault recovered and every check passed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from smartmeter_assets.cluster import kafka, minio, spark, supervisor
from smartmeter_assets.cluster.postgres import recreate_database
from smartmeter_assets.cluster.topology import Layout, cluster_environment

if TYPE_CHECKING:
    from smartmeter_assets.lake.storage import Lake

log = logging.getLogger(__name__)

#: The check's own Dagster database: a user's cluster history is never touched.
CHECK_DATABASE = "dagster_cluster_check"
#: Stream settings for the check: small batches so faults land mid-stream, quick relaunches.
CHECK_SETTINGS = {
    "SMARTMETER_SPARK_MAX_RECORDS_PER_BATCH": "500",
    "SMARTMETER_SPARK_TRIGGER_SECONDS": "2",
    "SMARTMETER_STREAM_BACKOFF_SECONDS": "2",
    "SMARTMETER_STREAM_MAX_FAILURES": "20",
}
DRIVER = "spark-driver"
FAULTS = (DRIVER, spark.WORKER, kafka.NAME, minio.NAME)
RECOVERY_TIMEOUT_SECONDS = 240.0
CATCH_UP_TIMEOUT_SECONDS = 420.0
STREAM_PROGRESS_TIMEOUT_SECONDS = 240.0


@dataclass
class Fault:
    fault: str
    pid: int
    recovered: bool = False
    new_pid: int | None = None
    seconds_to_recover: float | None = None
    landed_at_kill: int | None = None
    published_at_kill: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CheckReport:
    published: int = 0
    raw: int = 0
    rejected: int = 0
    duplicate_keys: int = 0
    faults: list[dict[str, Any]] = field(default_factory=list)
    lake_url: str = ""
    spark_master: str = ""
    kafka: str = ""
    dagster_storage: str = ""
    checks_failed: int = 0
    failed_checks: list[str] = field(default_factory=list)
    days: int = 0
    stream_runs: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        recovered = all(fault["recovered"] for fault in self.faults) and len(self.faults) == len(FAULTS)
        return (
            self.published > 0
            and self.raw + self.rejected == self.published
            and self.duplicate_keys == 0
            and recovered
            and self.checks_failed == 0
        )

    def line(self) -> str:
        return json.dumps(self.__dict__)


@contextmanager
def cluster_env(env: dict[str, str]) -> Iterator[None]:
    """This process talks to the cluster as its services do (Settings, DagsterInstance, S3)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def wait_for(what: str, condition: Callable[[], bool], timeout: float, every: float = 2.0) -> float:
    """Seconds until ``condition`` held; raises TimeoutError with ``what`` otherwise."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(every)
    return time.monotonic() - started


def service_pid(home: Path, name: str) -> int | None:
    state = supervisor.status(home)
    entry = state.get("services", {}).get(name, {})
    return entry.get("pid") if entry.get("alive") else None


def stream_driver_pid(home: Path) -> int | None:
    """The Spark driver JVM of the running stream: under the code server, beside the stream's Python."""
    server = service_pid(home, "dagster-code-server")
    if server is None:
        return None
    for process in psutil.Process(server).children(recursive=True):
        try:
            command = " ".join(process.cmdline())
        except psutil.Error:
            continue
        if "org.apache.spark.deploy.SparkSubmit" in command and "pyspark-shell" in command:
            parent = process.parent()
            if parent is not None and "smartmeter_assets.stream" in " ".join(parent.cmdline()):
                return process.pid
    return None


def kill9(pid: int) -> None:
    log.warning("kill -9 %d", pid)
    os.kill(pid, signal.SIGKILL)


def inject(home: Path, fault: str) -> Fault:
    """``kill -9`` one process, then wait until its replacement serves."""
    pid = stream_driver_pid(home) if fault == DRIVER else service_pid(home, fault)
    if pid is None:
        raise RuntimeError(f"no running process for {fault}")
    injected = Fault(fault, pid)
    started = time.monotonic()
    kill9(pid)

    def replaced() -> bool:
        new = stream_driver_pid(home) if fault == DRIVER else service_pid(home, fault)
        if new is None or new == pid:
            return False
        injected.new_pid = new
        return fault != spark.WORKER or spark.worker_registered()

    try:
        wait_for(f"recovery from kill -9 of {fault}", replaced, RECOVERY_TIMEOUT_SECONDS)
        injected.recovered = True
        injected.seconds_to_recover = round(time.monotonic() - started, 1)
    except TimeoutError as error:
        log.error("%s", error)
    return injected


def landed(settings: Any) -> int:
    """Rows in raw/ + rejected/, from the Delta logs (cheap enough to poll)."""
    from smartmeter_assets.contracts import RAW, REJECTED
    from smartmeter_assets.lake.observation import observe_table
    from smartmeter_assets.lake.storage import Lake

    lake = Lake.from_settings(settings)
    try:
        return observe_table(lake, RAW).rows + observe_table(lake, REJECTED).rows
    except OSError:  # MinIO restarting: not known now
        return -1


def split_rounds(days: list[Any], rounds: int) -> list[list[Any]]:
    """``days`` in ``rounds`` consecutive groups, none empty (earlier groups take the remainder)."""
    if len(days) < rounds:
        raise ValueError(f"the check needs at least {rounds} days to publish (one per fault), got {len(days)}")
    size, extra = divmod(len(days), rounds)
    groups, start = [], 0
    for index in range(rounds):
        end = start + size + (1 if index < extra else 0)
        groups.append(days[start:end])
        start = end
    return groups


def lake_counts(lake: Lake) -> tuple[dict[str, int], dict[str, int], dict[str, int], int]:
    """Readings per day: published (each day's latest publish), in raw/, in rejected/; and the
    extra raw rows of duplicated keys. The same figures the reconciliation check reads."""
    from smartmeter_assets.defs.lake.checks import raw_duplicates
    from smartmeter_assets.stream.landing import landed_counts, latest_publishes

    published = {p.day: p.records for p in latest_publishes(lake)}
    raw, rejected = landed_counts(lake)
    return published, raw, rejected, raw_duplicates(lake)


class FaultRun:
    """The check's steps, inside the cluster's environment (see the module's docstring)."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def run(self, days: int) -> CheckReport:
        from dagster import DagsterInstance, RunsFilter

        from smartmeter_assets.definitions import build_definitions
        from smartmeter_assets.defs.reports.assets import REPORT_ASSETS
        from smartmeter_assets.defs.stream.job import STREAM_JOB
        from smartmeter_assets.defs.stream.replay import PUBLISH_KEYS, SOURCE_KEYS
        from smartmeter_assets.headless import materialize_sources
        from smartmeter_assets.lake.storage import Lake
        from smartmeter_assets.settings import Settings
        from smartmeter_assets.sources.staging import publishable_days
        from smartmeter_assets.stream.lag import measure_lag

        settings = Settings()
        lake = Lake.from_settings(settings)
        defs = build_definitions(settings)
        report = CheckReport(lake_url=settings.lake_root, spark_master=settings.spark_master)
        broker_pid = service_pid(self.home, kafka.NAME)
        report.kafka = kafka.running_broker_version(broker_pid) if broker_pid else "unknown"
        global_job = defs.resolve_implicit_global_asset_job_def()
        checks = defs.resolve_asset_graph().asset_check_keys
        publish_job = global_job.get_subset(
            asset_selection=set(PUBLISH_KEYS),
            asset_check_selection={key for key in checks if key.asset_key in PUBLISH_KEYS},
        )
        with DagsterInstance.get() as instance:
            report.dagster_storage = "postgres" if "Postgres" in type(instance.run_storage).__name__ else (
                type(instance.run_storage).__name__
            )  # fmt: skip
            materialize_sources(defs, instance)
            to_publish = publishable_days(lake)[:days]
            report.days = len(to_publish)
            for group, fault in zip(split_rounds(to_publish, len(FAULTS)), FAULTS, strict=True):
                earlier = sum(lake_counts(lake)[0].values())  # published by earlier rounds

                def reached_this_round(earlier: int = earlier) -> bool:
                    return landed(settings) > earlier  # raw + rejected never exceed what was published

                for day in group:
                    result = publish_job.execute_in_process(
                        instance=instance, partition_key=day.isoformat(), raise_on_error=False
                    )
                    if not result.success:
                        raise RuntimeError(f"publishing {day} failed: see the run in Dagster")
                log.info("published %s; waiting for the stream to reach them", [str(d) for d in group])
                wait_for("the stream reaching this round's days", reached_this_round, STREAM_PROGRESS_TIMEOUT_SECONDS)
                if fault == DRIVER:
                    wait_for("a stream driver", lambda: stream_driver_pid(self.home) is not None,
                             STREAM_PROGRESS_TIMEOUT_SECONDS)  # fmt: skip
                in_lake = landed(settings)
                injected = inject(self.home, fault)
                injected.landed_at_kill = in_lake  # below published_at_kill: the kill hit mid-stream
                injected.published_at_kill = sum(lake_counts(lake)[0].values())
                report.faults.append(injected.as_dict())

            def caught_up() -> bool:
                try:
                    published = sum(lake_counts(lake)[0].values())
                except Exception as error:  # a service still restarting: ask again
                    log.info("not yet: %s", error)
                    return False
                lag = measure_lag(settings)
                return lag is not None and lag.total == 0 and landed(settings) >= published

            try:
                wait_for("the stream catching up", caught_up, CATCH_UP_TIMEOUT_SECONDS, every=5.0)
            except TimeoutError as error:
                report.failed_checks.append(str(error))
            published_per_day, raw, rejected, duplicates = lake_counts(lake)
            report.published = sum(published_per_day.values())
            report.raw = sum(raw.values())
            report.rejected = sum(rejected.values())
            report.duplicate_keys = duplicates
            elsewhere = {*SOURCE_KEYS, *PUBLISH_KEYS, *(asset.key for asset in REPORT_ASSETS)}
            lake_checks = {key for key in checks if key.asset_key not in elsewhere}  # as `smartmeter run` does
            checked = global_job.get_subset(
                asset_selection=set(), asset_check_selection=lake_checks
            ).execute_in_process(instance=instance, raise_on_error=False)
            for evaluation in checked.get_asset_check_evaluations():
                if not evaluation.passed:
                    report.failed_checks.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
            report.stream_runs = instance.get_runs_count(RunsFilter(job_name=STREAM_JOB))
        report.failed_checks += [f"fault not recovered: {f['fault']}" for f in report.faults if not f["recovered"]]
        report.checks_failed = len(report.failed_checks)
        return report


def run_check(home: Path, days: int, data_dir: Path | None = None) -> CheckReport:
    """The whole check on a fresh cluster under ``home``; the cluster is stopped at the end."""
    started = time.perf_counter()
    layout = Layout.of(home)
    supervisor.down(home)
    shutil.rmtree(layout.root, ignore_errors=True)
    overrides = {**CHECK_SETTINGS, "DAGSTER_POSTGRES_DB": CHECK_DATABASE}
    if data_dir is not None:
        overrides["SMARTMETER_DATA_DIR"] = str(data_dir.resolve())
    previous = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        env = cluster_environment(layout, data_dir)
        recreate_database(env)
        supervisor.up(home)
        with cluster_env(env):
            report = FaultRun(home).run(days)
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        supervisor.down(home)
    report.seconds = round(time.perf_counter() - started, 1)
    return report
