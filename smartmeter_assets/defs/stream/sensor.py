"""``smart_meter_stream_sensor``: keeps exactly one stream running, and says what the lake looks like.

Every tick it (1) decides with :func:`smartmeter_assets.supervision.decide` whether to start the
stream job (state in the cursor, never in a module variable), (2) observes the four lake tables
from their Delta logs, (3) adds the stream's lag per partition (true topic end minus the
offsets the stream committed) to ``lake_raw``'s observation and (4) records the supervisor's
health as an asset check result, so giving up shows as a failed check in the UI, not only as a
log line.

Giving up holds (every tick: no run, the check failed) until a user resets it from the UI, once
the cause is fixed: launch the ``smart_meter_stream`` job (Jobs > smart_meter_stream > Launchpad),
or clear this sensor's cursor (Automation > smart_meter_stream_sensor > cursor, edit to empty).
"""

import logging
import time
import uuid

from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetObservation,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from smartmeter_assets.contracts import RAW
from smartmeter_assets.defs.lake.assets import lake_asset_key, observation_events
from smartmeter_assets.defs.stream.job import STREAM_JOB, STREAM_TAG
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.lag import measure_lag
from smartmeter_assets.supervision import (
    Action,
    RunOutcome,
    StreamRun,
    SupervisorCursor,
    SupervisorPolicy,
    decide,
)

log = logging.getLogger(__name__)

SENSOR_NAME = "smart_meter_stream_sensor"
SUPERVISION_CHECK = "stream_supervision"
ACTIVE_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
OUTCOMES = {
    DagsterRunStatus.FAILURE: RunOutcome.FAILED,
    DagsterRunStatus.CANCELED: RunOutcome.CANCELED,
    DagsterRunStatus.SUCCESS: RunOutcome.SUCCEEDED,
}


def policy_of(settings: Settings) -> SupervisorPolicy:
    return SupervisorPolicy(
        max_failures=settings.stream_max_failures,
        failure_window_seconds=settings.stream_failure_window_minutes * 60.0,
        backoff_seconds=settings.stream_backoff_seconds,
    )


def stream_runs(instance: DagsterInstance, query_name: str) -> tuple[StreamRun | None, StreamRun | None]:
    """The newest active run and the newest finished run of the stream on this checkpoint."""
    tags = {STREAM_TAG: query_name}
    active = instance.get_run_records(
        filters=RunsFilter(job_name=STREAM_JOB, statuses=ACTIVE_STATUSES, tags=tags), limit=1
    )
    finished = instance.get_run_records(
        filters=RunsFilter(job_name=STREAM_JOB, statuses=list(OUTCOMES), tags=tags), limit=1
    )
    current = StreamRun(active[0].dagster_run.run_id, RunOutcome.ACTIVE) if active else None
    last = None
    if finished:
        record = finished[0]
        ended = record.end_time or record.update_timestamp.timestamp()
        last = StreamRun(record.dagster_run.run_id, OUTCOMES[record.dagster_run.status], ended)
    return current, last


def lag_metadata(settings: Settings) -> dict[str, object]:
    """Lag per partition, for ``lake_raw``'s observation; empty when the broker cannot be reached."""
    measured = measure_lag(settings)
    if measured is None:
        return {}
    return {
        "stream_lag": measured.total,
        "stream_lag_per_partition": MetadataValue.json({str(p): n for p, n in measured.per_partition.items()}),
        "topic_end_offsets": MetadataValue.json({str(p): n for p, n in measured.end_offsets.items()}),
        "committed_offsets": MetadataValue.json({str(p): n for p, n in sorted(measured.committed.items())}),
    }


def supervision_evaluation(passed: bool, reason: str, failures: int, attempts: int) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=lake_asset_key(RAW),
        check_name=SUPERVISION_CHECK,
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        metadata={"reason": reason, "failures_in_window": failures, "attempts": attempts},
    )


def build_stream_sensor(settings: Settings, interval_seconds: int = 15) -> SensorDefinition:
    policy = policy_of(settings)
    query = settings.stream_query_name
    lake = Lake.from_settings(settings)

    @sensor(
        name=SENSOR_NAME,
        job_name=STREAM_JOB,
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if settings.kafka_is_embedded else DefaultSensorStatus.STOPPED,
        description="Starts the stream when none runs, relaunches it with backoff, reports lag and the lake.",
    )
    def smart_meter_stream_sensor(context: SensorEvaluationContext) -> SensorResult:
        cursor = SupervisorCursor.from_json(context.cursor)
        active, last = stream_runs(context.instance, query)
        decision = decide(cursor, active, last, time.time(), policy)

        events: list[AssetObservation | AssetCheckEvaluation] = [
            *observation_events(lake, extra={lake_asset_key(RAW): lag_metadata(settings)})
        ]
        events.append(
            supervision_evaluation(
                decision.action != Action.GIVE_UP,
                decision.reason,
                decision.failures_in_window,
                decision.cursor.attempts,
            )
        )

        if decision.action == Action.GIVE_UP:
            context.log.error(decision.reason)
        else:
            context.log.info(decision.reason)
        if decision.action != Action.START:
            return SensorResult(skip_reason=SkipReason(decision.reason), cursor=decision.cursor.to_json(),
                                asset_events=events)  # fmt: skip
        request = RunRequest(
            run_key=f"stream-{decision.cursor.attempts}-{uuid.uuid4().hex[:8]}",
            tags={STREAM_TAG: query, "smartmeter/attempt": str(decision.cursor.attempts)},
        )
        return SensorResult(run_requests=[request], cursor=decision.cursor.to_json(), asset_events=events)

    return smart_meter_stream_sensor
