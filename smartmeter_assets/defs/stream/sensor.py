"""``smart_meter_stream_sensor``: keeps exactly one stream running, and says what the lake looks like.

Every tick it (1) decides with :func:`smartmeter_assets.supervision.decide` whether to start the
stream job (state in the cursor, never in a module variable), (2) observes, from their Delta
logs, those of the four lake tables whose version moved since its last tick (the versions it saw
are kept in the cursor too), (3) reports the stream's lag per partition (true topic end minus the
offsets the stream committed) and (4) records the supervisor's health as an asset check result,
so giving up shows as a failed check in the UI, not only as a log line.

Giving up holds (every tick: no run, the check failed) until a user resets it from the UI, once
the cause is fixed: launch the ``smart_meter_stream`` job (Jobs > smart_meter_stream > Launchpad),
or clear this sensor's cursor (Automation > smart_meter_stream_sensor > cursor, edit to empty).
"""

import json
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
from smartmeter_assets.defs.lake.assets import changed_observation_events, lake_asset_key
from smartmeter_assets.defs.stream.job import STREAM_JOB, STREAM_TAG
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.lag import measure_lag
from smartmeter_assets.supervision import (
    Action,
    Decision,
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


def lag_observation(settings: Settings) -> AssetObservation | None:
    """Lag per partition on ``lake_raw``; None when the broker cannot be reached."""
    measured = measure_lag(settings)
    if measured is None:
        return None
    return AssetObservation(
        asset_key=lake_asset_key(RAW),
        metadata={
            "stream_lag": measured.total,
            "stream_lag_per_partition": MetadataValue.json({str(p): n for p, n in measured.per_partition.items()}),
            "topic_end_offsets": MetadataValue.json({str(p): n for p, n in measured.end_offsets.items()}),
            "committed_offsets": MetadataValue.json({str(p): n for p, n in sorted(measured.committed.items())}),
        },
    )


def supervise(instance: DagsterInstance, settings: Settings, cursor: SupervisorCursor) -> Decision:
    """What the supervisor decides now: the sensor acts on it, the ``stream_supervision`` check reports it."""
    active, last = stream_runs(instance, settings.stream_query_name)
    return decide(cursor, active, last, time.time(), policy_of(settings))


def sensor_cursor(instance: DagsterInstance) -> SupervisorCursor | None:
    """The supervisor's memory as the daemon stored it (None: this sensor never ticked here, or the
    instance keeps no sensor state at all, as an ephemeral one)."""
    if instance.schedule_storage is None:
        return None
    for state in instance.all_instigator_state():
        cursor = getattr(state.instigator_data, "cursor", None)
        if state.instigator_name == SENSOR_NAME and cursor:
            return SupervisorCursor.from_json(cursor)
    return None


def supervision_passed(decision: Decision) -> bool:
    return decision.action != Action.GIVE_UP


def supervision_metadata(decision: Decision) -> dict[str, str | int]:
    return {"reason": decision.reason, "failures_in_window": decision.failures_in_window,
            "attempts": decision.cursor.attempts}  # fmt: skip


def supervision_evaluation(decision: Decision) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=lake_asset_key(RAW),
        check_name=SUPERVISION_CHECK,
        passed=supervision_passed(decision),
        severity=AssetCheckSeverity.ERROR,
        metadata=supervision_metadata(decision),
    )


#: The cursor key holding the Delta version of each lake table at the last observation.
OBSERVED_VERSIONS = "observed_versions"


def observed_versions(cursor: str | None) -> dict[str, int | None]:
    """The versions the last tick observed; an empty or older cursor means "observe everything"."""
    if not cursor:
        return {}
    return dict(json.loads(cursor).get(OBSERVED_VERSIONS, {}))


def cursor_with_versions(supervisor: SupervisorCursor, versions: dict[str, int | None]) -> str:
    """One JSON object: the supervisor's state and the observed versions side by side.

    Clearing the cursor from the UI resets both, which is what a user resetting the sensor wants.
    """
    return json.dumps({**json.loads(supervisor.to_json()), OBSERVED_VERSIONS: versions})


def build_stream_sensor(settings: Settings, interval_seconds: int = 15) -> SensorDefinition:
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
        decision = supervise(context.instance, settings, SupervisorCursor.from_json(context.cursor))

        observations, versions = changed_observation_events(lake, observed_versions(context.cursor))
        events: list[AssetObservation | AssetCheckEvaluation] = list(observations)
        lag_event = lag_observation(settings)
        if lag_event is not None:
            events.append(lag_event)
        events.append(supervision_evaluation(decision))

        if decision.action == Action.GIVE_UP:
            context.log.error(decision.reason)
        else:
            context.log.info(decision.reason)
        if decision.action != Action.START:
            return SensorResult(
                skip_reason=SkipReason(decision.reason),
                cursor=cursor_with_versions(decision.cursor, versions),
                asset_events=events,
            )
        request = RunRequest(
            run_key=f"stream-{decision.cursor.attempts}-{uuid.uuid4().hex[:8]}",
            tags={STREAM_TAG: query, "smartmeter/attempt": str(decision.cursor.attempts)},
        )
        return SensorResult(
            run_requests=[request], cursor=cursor_with_versions(decision.cursor, versions), asset_events=events
        )

    return smart_meter_stream_sensor
