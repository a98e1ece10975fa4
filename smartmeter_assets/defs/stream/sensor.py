"""``smart_meter_stream_sensor``: keeps exactly one stream running, and says what the lake looks like.

Every tick it (1) decides with :func:`smartmeter_assets.supervision.decide` whether to start the
stream job (state in the cursor, never in a module variable), (2) observes, from their Delta
logs, those of the four lake tables whose version moved since its last tick (what it saw of each
is kept in the cursor too), (3) adds the stream's lag per partition (true topic end minus the
offsets the stream committed) to ``lake_raw``'s observation when the lag moved, and (4) records
the supervisor's health as an asset check result, so giving up shows as a failed check in the UI,
not only as a log line. An idle pipeline adds nothing to the event log but that check.

Giving up holds (every tick: no run, the check failed) until a user resets it from the UI, once
the cause is fixed: launch the ``smart_meter_stream`` job (Jobs > smart_meter_stream > Launchpad),
or clear this sensor's cursor (Automation > smart_meter_stream_sensor > cursor, edit to empty).
"""

import json
import logging
import time
import uuid
from dataclasses import dataclass, field

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
from smartmeter_assets.defs.lake.assets import Observed, changed_observation_events, lake_asset_key
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


def lag_signature(lag: dict[str, object]) -> str:
    """What identifies a lag reading: the end and committed offsets (the total follows from them)."""
    return json.dumps([str(lag["topic_end_offsets"]), str(lag["committed_offsets"])])


@dataclass(frozen=True)
class SensorState:
    """What the sensor remembers beside the supervisor's state: each table as last observed and the
    last lag reported, so an unchanged table or lag is neither re-read nor re-reported."""

    tables: dict[str, Observed] = field(default_factory=dict)
    lag: str = ""

    def cursor(self, supervisor: SupervisorCursor) -> str:
        """One JSON object: the supervisor's state and this one side by side. Clearing the cursor from
        the UI resets both, which is what a user resetting the sensor wants."""
        observed = {name: seen.to_json() for name, seen in self.tables.items()}
        return json.dumps({**json.loads(supervisor.to_json()), OBSERVED: observed, REPORTED_LAG: self.lag})


#: Cursor keys beside the supervisor's.
OBSERVED, REPORTED_LAG = "observed", "reported_lag"


def remembered_state(cursor: str | None) -> SensorState:
    """The state the last tick left; an empty or older cursor means "observe and report everything"."""
    data = json.loads(cursor) if cursor else {}
    observed = data.get(OBSERVED)
    if not isinstance(observed, dict):
        return SensorState()
    tables = {name: Observed.from_json(value) for name, value in observed.items()}
    return SensorState(tables, str(data.get(REPORTED_LAG, "")))


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

        remembered = remembered_state(context.cursor)
        lag = lag_metadata(settings)
        lag_moved = bool(lag) and lag_signature(lag) != remembered.lag
        observations, observed = changed_observation_events(
            lake, remembered.tables, extra={lake_asset_key(RAW): lag}, extra_moved=lag_moved
        )
        events: list[AssetObservation | AssetCheckEvaluation] = [*observations, supervision_evaluation(decision)]
        state = SensorState(observed, lag_signature(lag) if lag else remembered.lag)

        if decision.action == Action.GIVE_UP:
            context.log.error(decision.reason)
        else:
            context.log.info(decision.reason)
        if decision.action != Action.START:
            return SensorResult(
                skip_reason=SkipReason(decision.reason),
                cursor=state.cursor(decision.cursor),
                asset_events=events,
            )
        request = RunRequest(
            run_key=f"stream-{decision.cursor.attempts}-{uuid.uuid4().hex[:8]}",
            tags={STREAM_TAG: query, "smartmeter/attempt": str(decision.cursor.attempts)},
        )
        return SensorResult(run_requests=[request], cursor=state.cursor(decision.cursor), asset_events=events)

    return smart_meter_stream_sensor
