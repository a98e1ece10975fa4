"""The stream sensor's decisions, evaluated by Dagster against a real instance.

Runs are created on the instance the way the daemon would find them (created, then failed or
canceled through the instance's own reporting), so the sensor reads real run records.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from unittest.mock import patch

import pytest
from dagster import AssetCheckEvaluation, AssetCheckKey, AssetKey, DagsterInstance, build_sensor_context

from smartmeter_assets.contracts import RAW
from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.stream.job import STREAM_TAG, build_stream_job
from smartmeter_assets.defs.stream.sensor import SUPERVISION_CHECK, build_stream_sensor
from smartmeter_assets.kafka.broker import EmbeddedBroker
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.supervision import SupervisorCursor
from smartmeter_assets_tests.lake_builder import raw_row, write_rows


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def settings(tmp_path: Path, kafka_broker: EmbeddedBroker) -> Settings:
    return Settings(
        home=tmp_path,
        lake_url=str(tmp_path / "lake"),
        kafka_bootstrap=kafka_broker.bootstrap,
        kafka_topic=f"sensor-{tmp_path.name}",
        stream_backoff_seconds=0.5,
        stream_max_failures=3,
    )


@contextmanager
def mock_time(at: float) -> Iterator[None]:
    """The sensor's clock (``time.time`` in its module) at ``at``: the window passes without waiting."""
    with patch("smartmeter_assets.defs.stream.sensor.time.time", return_value=at):
        yield


def tick(settings: Settings, instance: DagsterInstance, cursor: str | None):
    sensor = build_stream_sensor(settings)
    return sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor))


def stream_run(settings: Settings, instance: DagsterInstance):
    job = build_stream_job(settings.stream_query_name)
    return instance.create_run_for_job(job_def=job, tags={STREAM_TAG: settings.stream_query_name})


def supervision(result) -> bool:
    evaluations = [e for e in result.asset_events if getattr(e, "check_name", None) == SUPERVISION_CHECK]
    assert len(evaluations) == 1
    return evaluations[0].passed


def test_no_run_starts_the_stream_and_reports_the_lake(settings: Settings, instance: DagsterInstance) -> None:
    result = tick(settings, instance, None)
    assert len(result.run_requests) == 1
    assert result.run_requests[0].tags[STREAM_TAG] == settings.stream_query_name
    assert SupervisorCursor.from_json(result.cursor).attempts == 1
    observed = {e.asset_key for e in result.asset_events if hasattr(e, "metadata") and "rows" in e.metadata}
    assert AssetKey("lake_raw") in observed and AssetKey("lake_rejected") in observed
    assert supervision(result)


def lake_observations(result) -> set[str]:
    return {e.asset_key.path[-1] for e in result.asset_events if hasattr(e, "metadata") and "rows" in e.metadata}


def test_only_tables_whose_version_moved_are_observed_again(settings: Settings, instance: DagsterInstance) -> None:
    """Per-tick work stays flat as the lake grows: an unchanged table is neither re-read nor re-reported."""
    lake = Lake.from_settings(settings)
    first = tick(settings, instance, None)
    assert lake_observations(first) == {"lake_raw", "lake_aggregated", "lake_anomalies", "lake_rejected"}

    quiet = tick(settings, instance, first.cursor)
    assert lake_observations(quiet) == set()
    assert supervision(quiet)  # the supervisor still reports every tick

    write_rows(lake, RAW, [raw_row("MAC000002", datetime(2013, 1, 7, 0, 30), 0.2)])
    moved = tick(settings, instance, quiet.cursor)
    assert lake_observations(moved) == {"lake_raw"}
    (raw_event,) = [e for e in moved.asset_events if getattr(e, "asset_key", None) == AssetKey("lake_raw")
                    and "rows" in e.metadata]  # fmt: skip
    assert raw_event.metadata["rows"].value == 1 and raw_event.tags["dagster/data_version"] == "0"

    write_rows(lake, RAW, [raw_row("MAC000002", datetime(2013, 1, 7, 1, 0), 0.3)])
    again = tick(settings, instance, moved.cursor)
    assert lake_observations(again) == {"lake_raw"}
    assert lake_observations(tick(settings, instance, None)) == lake_observations(first)  # a cleared cursor: all


def test_a_run_in_progress_is_not_doubled(settings: Settings, instance: DagsterInstance) -> None:
    stream_run(settings, instance)  # created: not started yet, which counts as in progress
    result = tick(settings, instance, SupervisorCursor(attempts=1).to_json())
    assert not result.run_requests and "in progress" in (result.skip_message or "")


def test_a_failed_run_is_relaunched_after_a_backoff(settings: Settings, instance: DagsterInstance) -> None:
    run = stream_run(settings, instance)
    instance.report_run_failed(run)
    waiting = tick(settings, instance, SupervisorCursor(attempts=1).to_json())
    assert not waiting.run_requests and "backing off" in (waiting.skip_message or "")
    time.sleep(0.6)
    relaunched = tick(settings, instance, waiting.cursor)
    assert len(relaunched.run_requests) == 1
    cursor = SupervisorCursor.from_json(relaunched.cursor)
    assert cursor.attempts == 2 and cursor.counted_runs == (run.run_id,)


def test_too_many_failures_stop_the_relaunches_and_fail_the_check(
    settings: Settings, instance: DagsterInstance
) -> None:
    cursor: str | None = None
    for _ in range(settings.stream_max_failures):
        run = stream_run(settings, instance)
        instance.report_run_failed(run)
        result = tick(settings, instance, cursor)
        cursor = result.cursor
    assert not result.run_requests
    assert "gave up" in (result.skip_message or "")
    assert SupervisorCursor.from_json(cursor).gave_up
    assert supervision(result) is False


def test_a_canceled_stream_stays_stopped(settings: Settings, instance: DagsterInstance) -> None:
    run = stream_run(settings, instance)
    instance.report_run_canceled(run)
    result = tick(settings, instance, SupervisorCursor(attempts=1).to_json())
    assert not result.run_requests and "canceled" in (result.skip_message or "")


def test_giving_up_holds_until_a_user_starts_the_stream_or_clears_the_cursor(
    settings: Settings, instance: DagsterInstance
) -> None:
    window = settings.model_copy(update={"stream_failure_window_minutes": 1})
    cursor: str | None = None
    for _ in range(window.stream_max_failures):
        instance.report_run_failed(stream_run(window, instance))
        cursor = tick(window, instance, cursor).cursor
    assert SupervisorCursor.from_json(cursor).gave_up

    # the failures age out of the window (seen from a tick two minutes later): still given up
    later = time.time() + 120
    with mock_time(later):
        held = tick(window, instance, cursor)
    assert not held.run_requests and "gave up" in (held.skip_message or "") and supervision(held) is False
    assert SupervisorCursor.from_json(held.cursor).gave_up

    # reset 1: clearing the sensor's cursor (the UI's cursor editor) starts afresh
    with mock_time(later):
        fresh = tick(window, instance, None)
    assert len(fresh.run_requests) == 1 and supervision(fresh)

    # reset 2: a user launches the stream job: supervision resumes with no failures remembered
    user_run = stream_run(window, instance)
    with mock_time(later):
        resumed = tick(window, instance, held.cursor)
    assert not resumed.run_requests and "started by a user" in (resumed.skip_message or "")
    state = SupervisorCursor.from_json(resumed.cursor)
    assert not state.gave_up and state.failures == () and supervision(resumed)
    instance.report_run_failed(user_run)
    with mock_time(time.time() + 1):  # past the 0.5 s backoff of one failure
        after = tick(window, instance, resumed.cursor)
    state = SupervisorCursor.from_json(after.cursor)
    assert len(after.run_requests) == 1 and not state.gave_up
    assert state.failures and len(state.failures) == 1  # only the user's run counts now


def run_supervision_check(settings: Settings, instance: DagsterInstance) -> AssetCheckEvaluation:
    """The ``stream_supervision`` check executed by Dagster on ``instance`` (where the sensor never ticked)."""
    key = AssetCheckKey(AssetKey("lake_raw"), SUPERVISION_CHECK)
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    result = job.get_subset(asset_selection=set(), asset_check_selection={key}).execute_in_process(instance=instance)
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_the_check_reports_the_sensors_own_decision(settings: Settings, instance: DagsterInstance) -> None:
    cursor: str | None = None
    instance.report_run_failed(stream_run(settings, instance))
    cursor = tick(settings, instance, cursor).cursor
    one_failure = run_supervision_check(settings, instance)
    assert one_failure.passed and one_failure.metadata["failures_in_window"].value == 1
    reason = one_failure.metadata["reason"].value  # the supervisor's words: backing off, or starting again
    assert "after 1 failure" in reason or "after 1 recent failure" in reason

    for _ in range(settings.stream_max_failures - 1):
        instance.report_run_failed(stream_run(settings, instance))
        result = tick(settings, instance, cursor)
        cursor = result.cursor
    gave_up = run_supervision_check(settings, instance)
    assert supervision(result) is False and gave_up.passed is False
    assert gave_up.metadata["reason"].value == SupervisorCursor.from_json(cursor).last_reason

    stream_run(settings, instance)  # a user launches the stream: the supervisor resumes, the check with it
    assert supervision(tick(settings, instance, cursor)) and run_supervision_check(settings, instance).passed
