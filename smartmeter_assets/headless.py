"""``smartmeter run``: the whole pipeline headless, through the real Dagster APIs, then one JSON line.

It uses the persistent instance under ``<home>/dagster_home`` (so a later ``make up`` shows the
history): sources, every day published while the stream run consumes them (it starts before the
first publish and stops once the last publish is in the lake: :mod:`smartmeter_assets.stream.drain`),
the lake observed, every check run. The exit code is non-zero if any check failed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date

from dagster import AssetKey, DagsterInstance, Definitions, ExecuteInProcessResult
from tqdm import tqdm

from smartmeter_assets.contracts import AGGREGATED, ANOMALIES, RAW, REJECTED
from smartmeter_assets.dagster_home import prepare_dagster_home, spark_environment
from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.lake.assets import observation_events
from smartmeter_assets.defs.reports.run import ALERTS_KEY, REPORT_KEYS, run_reports, split_beside_detector
from smartmeter_assets.defs.stream.replay import PUBLISH_KEYS, SOURCE_KEYS
from smartmeter_assets.defs.stream.sensor import stream_runs
from smartmeter_assets.exit_status import die_with_parent
from smartmeter_assets.kafka.broker import EmbeddedBroker, read_state, resolve_bootstrap
from smartmeter_assets.kafka.offsets import end_offsets
from smartmeter_assets.kafka.security import KafkaSecurity
from smartmeter_assets.kafka.topic import ensure_topic
from smartmeter_assets.lake.observation import observe_table
from smartmeter_assets.lake.published import published_days
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.run_outcome import RunOutcome
from smartmeter_assets.settings import Settings
from smartmeter_assets.sources.staging import publishable_days
from smartmeter_assets.stream.drain import DrainTarget

log = logging.getLogger(__name__)

#: How long a stream run asked to stop (SIGTERM: the query stops in order) may take.
STREAM_STOP_SECONDS = 60
#: How long the detector's process asked to stop may take before it is killed.
DETECTOR_STOP_SECONDS = 10


class PipelineRunError(RuntimeError):
    """A step of the headless run failed (its Dagster run failed)."""


class NothingToPublishError(PipelineRunError):
    """The chosen range holds no staged day: the user asked for something the data does not have."""


def days_to_publish(staged: list[date], first_day: date | None, days: int | None) -> list[date]:
    """The staged days a run publishes: from ``first_day`` (default: the first staged day), ``days`` of them."""
    chosen = [day for day in staged if first_day is None or day >= first_day]
    return chosen[:days] if days else chosen


@dataclass
class Summary:
    published: int = 0
    raw: int = 0
    rejected: int = 0
    anomalies: int = 0
    aggregated_windows: int = 0
    checks_passed: int = 0
    checks_failed: int = 0
    failed_checks: list[str] = field(default_factory=list)
    checks_warned: int = 0
    warned_checks: list[str] = field(default_factory=list)
    reports_failed: list[str] = field(default_factory=list)
    days: int = 0
    seconds: float = 0.0
    readings_per_second: float = 0.0

    def line(self) -> str:
        return json.dumps(self.__dict__, sort_keys=False)


def _count(outcome: RunOutcome, summary: Summary, reports: bool = False) -> None:
    """Count a run's checks (and, for report runs, its failed steps). An ERROR check that fails (data
    lost, a contract broken) fails the run; a WARN one (an analytic goal missed, lag, freshness) is
    reported in ``warned_checks`` only."""
    for check in outcome.checks:
        if check.passed:
            summary.checks_passed += 1
        elif check.warn_only:
            summary.checks_warned += 1
            summary.warned_checks.append(check.name)
        else:
            summary.checks_failed += 1
            summary.failed_checks.append(check.name)
    if reports:
        summary.reports_failed += outcome.failed_steps


def _checks_of(result: ExecuteInProcessResult, summary: Summary, reports: bool = False) -> None:
    _count(RunOutcome.of(result), summary, reports)


def materialize_sources(defs: Definitions, instance: DagsterInstance) -> ExecuteInProcessResult:
    """The four source assets and their checks, as one run on ``instance``."""
    source_checks = {key for key in defs.resolve_asset_graph().asset_check_keys if key.asset_key in SOURCE_KEYS}
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=set(SOURCE_KEYS), asset_check_selection=source_checks
    )
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    if not result.success:
        raise PipelineRunError("materializing the sources failed: see the run in the Dagster UI")
    return result


class StreamAlongside:
    """The stream job's Dagster run, in a process of its own, consuming while days are published.

    A process, not a thread: see :mod:`smartmeter_assets.stream_run` (two runs starting in one
    process deadlock in Dagster's logging setup). It shares this instance and these settings, and
    dies with this process. It is made first thing and gets ready (imports, definitions: ~2.5 s of a
    core) while this process starts the broker, one core only; :meth:`start` lets its run begin once
    the topic exists. :meth:`drain` writes the drain target (the topic's end offsets now) and waits
    for the run to end; it is also how a failed publish stops the stream, once what was published
    is in the lake.
    """

    def __init__(self, settings: Settings) -> None:
        token = uuid.uuid4().hex[:8]
        self.settings = settings
        self.bootstrap: str | None = None  # set by start()
        self.drain_file = settings.home.resolve() / f"stream-drain-{token}.json"
        self.start_file = settings.home.resolve() / f"stream-start-{token}"
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "smartmeter_assets.stream_run",
                "--drain-file", str(self.drain_file), "--start-file", str(self.start_file),
            ],
            env={**os.environ, **settings.to_env()},
            preexec_fn=die_with_parent,
        )  # fmt: skip

    @property
    def ended(self) -> bool:
        return self.process.poll() is not None

    def start(self, bootstrap: str) -> None:
        """The topic exists on ``bootstrap``: the run may begin."""
        self.bootstrap = bootstrap
        self.start_file.touch()

    def abandon(self) -> None:
        """Stop the process if its run never began (the run failed before the topic was ready)."""
        if self.bootstrap is None and self.process.poll() is None:  # no drain target is written before start
            self.process.terminate()
            self.process.wait(STREAM_STOP_SECONDS)

    def drain(self) -> None:
        """Stop once everything published so far is in the lake; raise if the stream run failed."""
        if self.bootstrap is None:
            raise PipelineRunError("the stream run was never started")
        try:
            if not self.ended:
                security = KafkaSecurity.from_settings(self.settings)
                target = end_offsets(self.bootstrap, self.settings.kafka_topic, security=security)
                DrainTarget(self.settings.kafka_topic, target).write(self.drain_file)
            status = self.process.wait()
        finally:
            if self.process.poll() is None:  # interrupted while waiting: no stream outlives the run
                self.process.terminate()
                self.process.wait(STREAM_STOP_SECONDS)
            self.drain_file.unlink(missing_ok=True)
            self.start_file.unlink(missing_ok=True)
        if status != 0:
            raise PipelineRunError(f"the stream run failed (exit {status}): see its logs in the Dagster UI")


class DetectorAlongside:
    """The meter-day detector's run (:mod:`smartmeter_assets.detector_run`) in a process of its own.

    The process starts ready-but-waiting: its imports and definitions (~5 s of a core) are made
    while the stream drains, when this process only waits; :meth:`start` lets its run begin.
    ``then``: reports it materializes after the detector, in a second run of that process.
    """

    def __init__(self, settings: Settings, then: frozenset[AssetKey] = frozenset()) -> None:
        token = uuid.uuid4().hex[:8]
        self.then = then
        self.outcome_file = settings.home.resolve() / f"detector-outcome-{token}.json"
        self.start_file = settings.home.resolve() / f"detector-start-{token}"
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "smartmeter_assets.detector_run",
                "--outcome-file", str(self.outcome_file), "--start-file", str(self.start_file),
                *(f"--then={key.to_user_string()}" for key in sorted(then, key=AssetKey.to_user_string)),
            ],
            env={**os.environ, **settings.to_env()},
            preexec_fn=die_with_parent,
        )  # fmt: skip

    def start(self) -> None:
        """The lake is complete: the run may read it."""
        self.start_file.touch()

    def stop(self) -> None:
        """No detector outlives the run: asked to stop (SIGTERM), killed if it has not within the grace time.

        Killing loses nothing: its run either has not started or commits its alerts in one Delta
        write. The kill is the safety net for a process that hangs; an inherited ignored SIGTERM, which
        once kept it alive in CI, is reset for every child by :func:`~smartmeter_assets.exit_status.die_with_parent`.
        """
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(DETECTOR_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning(
                    "the meter-day detector's process did not end %s s after SIGTERM: killed", DETECTOR_STOP_SECONDS
                )
                self.process.kill()
                self.process.wait()
        self._clean()

    def _clean(self) -> None:
        self.outcome_file.unlink(missing_ok=True)
        self.start_file.unlink(missing_ok=True)

    def outcome(self) -> RunOutcome:
        """What its run said, once it ended; a process that died without a word is a failed report."""
        try:
            status = self.process.wait()
        except BaseException:  # interrupted while waiting
            self.stop()
            raise
        try:
            return RunOutcome.read(self.outcome_file)
        except FileNotFoundError:
            log.error("the meter-day detector's process ended (exit %s) without an outcome", status)
            reports = [ALERTS_KEY, *sorted(self.then, key=AssetKey.to_user_string)]
            return RunOutcome(failed_steps=[key.to_user_string() for key in reports])
        finally:
            self._clean()


def run_pipeline(
    settings: Settings, days: int | None = None, progress: bool = True, first_day: date | None = None
) -> Summary:
    """Sources -> days published while the stream drains them -> lake observed -> every check -> reports.

    ``first_day`` and ``days`` choose the range replayed (``smartmeter run --from D --days N``).
    """
    started = time.perf_counter()
    home = prepare_dagster_home(settings)
    os.environ.update({**spark_environment(), "DAGSTER_HOME": str(home)})
    stream = StreamAlongside(settings)
    try:
        return _run_with_stream(settings, stream, started, days, progress, first_day)
    finally:
        stream.abandon()


def _run_with_stream(
    settings: Settings,
    stream: StreamAlongside,
    started: float,
    days: int | None,
    progress: bool,
    first_day: date | None,
) -> Summary:
    """:func:`run_pipeline` once the stream's process is getting ready."""
    summary = Summary()
    defs: Definitions = build_definitions(settings)
    global_job = defs.resolve_implicit_global_asset_job_def()
    all_checks = {key for key in defs.resolve_asset_graph().asset_check_keys}
    source_checks = {key for key in all_checks if key.asset_key in SOURCE_KEYS}
    publish_checks = {key for key in all_checks if key.asset_key in PUBLISH_KEYS}
    lake = Lake.from_settings(settings)

    owned_broker = None
    if settings.kafka_is_embedded:
        running = read_state(settings.home.resolve())
        if running is None or not running.alive():
            owned_broker = EmbeddedBroker(home=settings.home.resolve())
            owned_broker.start()
    try:
        bootstrap = resolve_bootstrap(settings.kafka_bootstrap, settings.home.resolve())
        ensure_topic(
            bootstrap, settings.kafka_topic, settings.kafka_partitions, settings.kafka_replication_factor,
            security=KafkaSecurity.from_settings(settings),
        )  # fmt: skip
        with DagsterInstance.get() as instance:
            active, _ = stream_runs(instance, settings.stream_query_name)
            if active is not None:
                raise PipelineRunError(
                    f"stream run {active.run_id} is in progress on this home (is `make up` running?): "
                    "two streams must never share a checkpoint; stop it first"
                )
            bar = tqdm(total=4, unit="step", disable=not progress, desc="sources")
            # The stream starts first: its JVM, Spark session and query planning (10-20 s) overlap the
            # staging of the sources, which it does not need (it reads only the topic).
            stream.start(bootstrap)
            try:
                _checks_of(materialize_sources(defs, instance), summary)
                bar.update(1)

                staged = publishable_days(lake)
                to_publish = days_to_publish(staged, first_day, days)
                if not to_publish:
                    span = f"{staged[0]} .. {staged[-1]}" if staged else "none"
                    raise NothingToPublishError(
                        f"no staged day to publish from {first_day or 'the start'} (staged days: {span})"
                    )
                summary.days = len(to_publish)
                bar.total = 5 + len(to_publish)
                publish_job = global_job.get_subset(
                    asset_selection=set(PUBLISH_KEYS), asset_check_selection=publish_checks
                )
                for day in to_publish:
                    if stream.ended:  # the stream failed: publishing more would only grow its lag
                        break
                    bar.set_description(f"publish {day}")
                    published = publish_job.execute_in_process(
                        instance=instance, partition_key=day.isoformat(), raise_on_error=False
                    )
                    if not published.success:
                        raise PipelineRunError(f"publishing {day} failed: see the run in the Dagster UI")
                    _checks_of(published, summary)
                    bar.update(1)
            except BaseException:  # what was published still lands before we stop; the first error wins
                with contextlib.suppress(PipelineRunError):
                    stream.drain()
                raise
            # The detector reads all of raw/ once; on its own process it runs beside the checks and
            # the other reports (single-threaded Python all of them), then the reports of
            # split.beside there. Its process gets ready while the stream drains, and starts once
            # the lake is complete.
            split = split_beside_detector(defs)
            detector = DetectorAlongside(settings, then=split.beside)
            try:
                bar.set_description("stream (draining)")
                stream.drain()
                bar.update(1)

                bar.set_description("observe the lake")
                for event in observation_events(lake):
                    instance.report_runless_asset_event(event)
                bar.update(1)

                bar.set_description("checks and reports")
                detector.start()
                report_checks = {key for key in all_checks if key.asset_key in REPORT_KEYS}
                lake_checks = all_checks - source_checks - publish_checks - report_checks
                checked = global_job.get_subset(
                    asset_selection=set(), asset_check_selection=lake_checks
                ).execute_in_process(instance=instance, raise_on_error=False)
                _checks_of(checked, summary)
                bar.update(1)
                _checks_of(run_reports(defs, instance, set(split.parent)), summary, reports=True)
            except BaseException:  # interrupted or failed: the detector stops too, at once
                detector.stop()
                raise
            _count(detector.outcome(), summary, reports=True)
            if split.after:
                _checks_of(run_reports(defs, instance, set(split.after)), summary, reports=True)
            bar.update(1)
            bar.close()
    finally:
        if owned_broker is not None:
            owned_broker.stop()

    publishes = published_days(lake)  # the latest publish of every day the lake was fed
    summary.published = int(publishes["records"].sum()) if not publishes.empty else 0
    summary.raw = observe_table(lake, RAW).rows
    summary.rejected = observe_table(lake, REJECTED).rows
    summary.anomalies = observe_table(lake, ANOMALIES).rows
    summary.aggregated_windows = observe_table(lake, AGGREGATED).rows
    summary.seconds = round(time.perf_counter() - started, 2)
    summary.readings_per_second = round(summary.published / summary.seconds, 1) if summary.seconds else 0.0
    return summary
