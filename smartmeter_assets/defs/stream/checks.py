"""Checks on the stream's supervision, beside the sensor that supervises it.

Here, not with the lake's checks: it reads the stream job's runs and the sensor's policy, and the
lake's definitions must not import the stream's (the sensor imports the lake's assets).

The check does not judge by a rule of its own: it asks the supervisor (:func:`supervise`, the
same decision the sensor acts on every tick) and fails exactly when the supervisor gives up.
"""

import time
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
    asset_check,
)

from smartmeter_assets.contracts import RAW
from smartmeter_assets.defs.lake.assets import lake_asset_key
from smartmeter_assets.defs.stream.job import STREAM_JOB, STREAM_TAG
from smartmeter_assets.defs.stream.sensor import (
    SUPERVISION_CHECK,
    policy_of,
    sensor_cursor,
    supervise,
    supervision_metadata,
    supervision_passed,
)
from smartmeter_assets.settings import Settings
from smartmeter_assets.supervision import RunOutcome, StreamRun, SupervisorCursor, with_failures


def supervisor_memory(instance: DagsterInstance, settings: Settings) -> SupervisorCursor:
    """The sensor's cursor; where the sensor never ticked (``smartmeter run``, a test), what it
    would remember: every failed stream run of the failure window, counted once."""
    stored = sensor_cursor(instance)
    if stored is not None:
        return stored
    since = datetime.now(UTC) - timedelta(seconds=policy_of(settings).failure_window_seconds)
    records = instance.get_run_records(
        filters=RunsFilter(
            job_name=STREAM_JOB,
            statuses=[DagsterRunStatus.FAILURE],
            tags={STREAM_TAG: settings.stream_query_name},
            updated_after=since,
        )
    )
    failed = [
        StreamRun(r.dagster_run.run_id, RunOutcome.FAILED, r.end_time or r.update_timestamp.timestamp())
        for r in reversed(records)  # oldest first, as the sensor would have counted them
    ]
    return with_failures(SupervisorCursor(), failed, time.time())


def build_stream_checks(settings: Settings) -> list[AssetChecksDefinition]:
    raw_key = lake_asset_key(RAW)

    @asset_check(asset=raw_key, name=SUPERVISION_CHECK)
    def stream_supervision(context: AssetCheckExecutionContext) -> AssetCheckResult:
        """The stream supervisor has not given up (the sensor's own decision, see the module docstring)."""
        decision = supervise(context.instance, settings, supervisor_memory(context.instance, settings))
        return AssetCheckResult(
            passed=supervision_passed(decision),
            severity=AssetCheckSeverity.ERROR,
            metadata={**supervision_metadata(decision), "at": time.time()},
        )

    return [stream_supervision]
