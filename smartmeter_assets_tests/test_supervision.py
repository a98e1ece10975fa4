"""The supervisor's decisions, every branch, as a pure function."""

from __future__ import annotations

from smartmeter_assets.supervision import (
    Action,
    RunOutcome,
    StreamRun,
    SupervisorCursor,
    SupervisorPolicy,
    backoff_seconds,
    decide,
)

POLICY = SupervisorPolicy(max_failures=3, failure_window_seconds=600, backoff_seconds=10)


def failed(run_id: str, at: float) -> StreamRun:
    return StreamRun(run_id, RunOutcome.FAILED, at)


def test_no_run_starts_one_and_counts_the_attempt() -> None:
    decision = decide(SupervisorCursor(), None, None, now=1000, policy=POLICY)
    assert decision.action == Action.START and decision.cursor.attempts == 1


def test_a_run_in_progress_is_left_alone() -> None:
    active = StreamRun("r1", RunOutcome.ACTIVE)
    decision = decide(SupervisorCursor(attempts=1), active, None, now=1000, policy=POLICY)
    assert decision.action == Action.WAIT and "r1" in decision.reason and decision.cursor.attempts == 1


def test_a_failure_backs_off_then_relaunches_and_is_counted_once() -> None:
    cursor = SupervisorCursor(attempts=1)
    waiting = decide(cursor, None, failed("r1", 1000), now=1005, policy=POLICY)
    assert waiting.action == Action.WAIT and waiting.retry_at == 1010 and waiting.failures_in_window == 1
    relaunch = decide(waiting.cursor, None, failed("r1", 1000), now=1011, policy=POLICY)
    assert relaunch.action == Action.START and relaunch.cursor.attempts == 2
    assert relaunch.cursor.failures == (1000,)  # the same failed run is not counted twice


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(n, POLICY) for n in range(5)] == [0, 10, 20, 40, 80]
    assert backoff_seconds(30, POLICY) == 600


def test_too_many_failures_in_the_window_gives_up_loudly() -> None:
    cursor = SupervisorCursor(failures=(1000, 1030), counted_runs=("r1", "r2"), attempts=3)
    decision = decide(cursor, None, failed("r3", 1100), now=1101, policy=POLICY)
    assert decision.action == Action.GIVE_UP and decision.cursor.gave_up
    assert "failed 3 times" in decision.reason


def test_old_failures_leave_the_window() -> None:
    cursor = SupervisorCursor(failures=(0, 10), counted_runs=("r1", "r2"), attempts=3)
    decision = decide(cursor, None, failed("r3", 1000), now=1100, policy=POLICY)
    assert decision.action == Action.START and decision.cursor.failures == (1000,)


def test_giving_up_holds_after_the_failures_leave_the_window() -> None:
    cursor = SupervisorCursor(failures=(1000, 1030), counted_runs=("r1", "r2"), attempts=3)
    gave_up = decide(cursor, None, failed("r3", 1100), now=1101, policy=POLICY)
    much_later = decide(gave_up.cursor, None, failed("r3", 1100), now=1101 + 10 * POLICY.failure_window_seconds,
                        policy=POLICY)  # fmt: skip
    assert much_later.action == Action.GIVE_UP and much_later.cursor.gave_up
    assert much_later.reason == gave_up.reason and "clear the sensor's cursor" in much_later.reason


def test_a_run_a_user_starts_after_giving_up_resets_the_supervisor() -> None:
    cursor = SupervisorCursor(failures=(1000, 1030), counted_runs=("r1", "r2"), attempts=3)
    gave_up = decide(cursor, None, failed("r3", 1100), now=1101, policy=POLICY).cursor
    reset = decide(gave_up, StreamRun("u1", RunOutcome.ACTIVE), failed("r3", 1100), now=1200, policy=POLICY)
    assert reset.action == Action.WAIT and "started by a user" in reset.reason
    assert not reset.cursor.gave_up and reset.cursor.failures == ()
    # the user's run fails too: one failure, a backoff and a relaunch, not an immediate give-up
    after = decide(reset.cursor, None, failed("u1", 1300), now=1301, policy=POLICY)
    assert after.action == Action.WAIT and after.failures_in_window == 1 and "backing off" in after.reason
    assert decide(after.cursor, None, failed("u1", 1300), now=1311, policy=POLICY).action == Action.START


def test_a_cleared_cursor_is_a_fresh_start() -> None:
    decision = decide(SupervisorCursor(), None, failed("r3", 1100), now=1200, policy=POLICY)
    assert decision.action == Action.START and decision.failures_in_window == 1


def test_a_canceled_stream_is_not_restarted() -> None:
    decision = decide(SupervisorCursor(), None, StreamRun("r1", RunOutcome.CANCELED, 5), now=10, policy=POLICY)
    assert decision.action == Action.WAIT and "canceled" in decision.reason


def test_the_cursor_round_trips_through_json() -> None:
    cursor = SupervisorCursor(failures=(1.5,), counted_runs=("a",), attempts=2, gave_up=True, last_reason="x")
    assert SupervisorCursor.from_json(cursor.to_json()) == cursor
    assert SupervisorCursor.from_json(None) == SupervisorCursor()
