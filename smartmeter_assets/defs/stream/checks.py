"""Checks on the stream's supervision, beside the sensor that supervises it.

Here, not with the lake's checks: it reads the stream job's runs and the sensor's policy, and the
lake's definitions must not import the stream's (the sensor imports the lake's assets).
"""

import time
from datetime import UTC, datetime, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    DagsterRunStatus,
    RunsFilter,
    asset_check,
)

from smartmeter_assets.contracts import RAW
from smartmeter_assets.defs.lake.assets import lake_asset_key
from smartmeter_assets.defs.stream.job import STREAM_JOB, STREAM_TAG
from smartmeter_assets.defs.stream.sensor import SUPERVISION_CHECK, policy_of
from smartmeter_assets.settings import Settings


def build_stream_checks(settings: Settings) -> list[AssetChecksDefinition]:
    raw_key = lake_asset_key(RAW)

    @asset_check(asset=raw_key, name=SUPERVISION_CHECK)
    def stream_supervision(context: AssetCheckExecutionContext) -> AssetCheckResult:
        """The stream has not failed too often recently (what makes the sensor give up)."""
        policy = policy_of(settings)
        since = datetime.now(UTC) - timedelta(seconds=policy.failure_window_seconds)
        failures = context.instance.get_run_records(
            filters=RunsFilter(
                job_name=STREAM_JOB,
                statuses=[DagsterRunStatus.FAILURE],
                tags={STREAM_TAG: settings.stream_query_name},
                updated_after=since,
            )
        )
        return AssetCheckResult(
            passed=len(failures) < policy.max_failures,
            metadata={"failures_in_window": len(failures), "limit": policy.max_failures, "at": time.time()},
        )

    return [stream_supervision]
