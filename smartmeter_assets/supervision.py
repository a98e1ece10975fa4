"""When to (re)start the stream: the sensor's decisions as a pure function of its cursor and the runs.

Kept free of Dagster so every branch is tested directly: a running stream is left alone, a missing
one is started, a failed one is relaunched after an exponential backoff, and after too many
failures in a window the supervisor gives up loudly instead of relaunching forever.

Giving up holds until a user resets it; it never lapses when the failures age out of the
window (a silent restart of something that failed N times in a row is what giving up prevents).
A user resets it from the UI in either of two ways, once the cause is fixed:
- launch the stream job themselves: the supervisor never starts a run after giving up, so an
  active run means a user started it; supervision resumes and the earlier failures are forgotten;
- clear the sensor's cursor (the sensor's page, "cursor", edit to empty): a fresh start.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum

#: How many counted run ids the cursor remembers (enough to never count one twice).
REMEMBERED_RUNS = 50
MAX_BACKOFF_SECONDS = 600.0
#: What a user does to make a supervisor that gave up supervise again (see the module docstring).
RESET_HINT = "launch the stream job from the UI, or clear the sensor's cursor, to resume"


class RunOutcome(StrEnum):
    ACTIVE = "active"  # queued, starting, started, canceling
    FAILED = "failed"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class StreamRun:
    run_id: str
    outcome: RunOutcome
    ended_at: float | None = None  # epoch seconds


@dataclass(frozen=True)
class SupervisorPolicy:
    max_failures: int
    failure_window_seconds: float
    backoff_seconds: float


@dataclass(frozen=True)
class SupervisorCursor:
    """What the sensor remembers between ticks (serialised into its cursor)."""

    failures: tuple[float, ...] = ()  # end times of counted failures, newest last
    counted_runs: tuple[str, ...] = ()
    attempts: int = 0  # runs this supervisor has requested
    gave_up: bool = False
    last_reason: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | None) -> SupervisorCursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            failures=tuple(data.get("failures", ())),
            counted_runs=tuple(data.get("counted_runs", ())),
            attempts=int(data.get("attempts", 0)),
            gave_up=bool(data.get("gave_up", False)),
            last_reason=str(data.get("last_reason", "")),
        )


class Action(StrEnum):
    START = "start"
    WAIT = "wait"  # running, backing off, or paused by a user
    GIVE_UP = "give_up"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    cursor: SupervisorCursor
    failures_in_window: int = 0
    retry_at: float | None = None
    notes: list[str] = field(default_factory=list)


def backoff_seconds(failures_in_window: int, policy: SupervisorPolicy) -> float:
    """base, 2*base, 4*base ... after the 1st, 2nd, 3rd failure in the window (capped)."""
    if failures_in_window <= 0:
        return 0.0
    return min(policy.backoff_seconds * 2 ** (failures_in_window - 1), MAX_BACKOFF_SECONDS)


def with_failures(cursor: SupervisorCursor, runs: Iterable[StreamRun], now: float) -> SupervisorCursor:
    """``cursor`` with every failed run of ``runs`` it has not counted yet counted, once each."""
    failures, counted = list(cursor.failures), list(cursor.counted_runs)
    for run in runs:
        if run.outcome == RunOutcome.FAILED and run.run_id not in counted:
            failures.append(run.ended_at if run.ended_at is not None else now)
            counted.append(run.run_id)
    return replace(cursor, failures=tuple(failures), counted_runs=tuple(counted))


def decide(
    cursor: SupervisorCursor,
    active: StreamRun | None,
    last_finished: StreamRun | None,
    now: float,
    policy: SupervisorPolicy,
) -> Decision:
    """The supervisor's next step given the newest active run and the newest finished one.

    The one rule of supervision: the sensor acts on it, and the ``stream_supervision`` check
    passes exactly when it does not give up.
    """
    counted = with_failures(cursor, [] if last_finished is None else [last_finished], now)
    recent = sorted(t for t in counted.failures if now - t <= policy.failure_window_seconds)
    state = replace(counted, failures=tuple(recent), counted_runs=counted.counted_runs[-REMEMBERED_RUNS:])

    if active is not None:
        if cursor.gave_up:  # the supervisor started nothing since: a user did, which is the reset
            reason = f"stream run {active.run_id} was started by a user: supervision resumes, past failures forgotten"
            reset = replace(state, failures=(), gave_up=False, last_reason=reason)
            return Decision(Action.WAIT, reason, reset, 0)
        reason = f"stream run {active.run_id} is in progress"
        return Decision(Action.WAIT, reason, replace(state, last_reason=reason), len(recent))

    if cursor.gave_up:  # holds, however old the failures are, until a user resets it
        return Decision(Action.GIVE_UP, cursor.last_reason, state, len(recent))

    if len(recent) >= policy.max_failures:
        window = int(policy.failure_window_seconds // 60)
        reason = (
            f"gave up: the stream failed {len(recent)} times in the last {window} min "
            f"(limit {policy.max_failures}); fix the cause, then {RESET_HINT}"
        )
        return Decision(Action.GIVE_UP, reason, replace(state, gave_up=True, last_reason=reason), len(recent))

    if last_finished is not None and last_finished.outcome == RunOutcome.CANCELED:
        reason = f"stream run {last_finished.run_id} was canceled by a user: not restarting it"
        return Decision(Action.WAIT, reason, replace(state, last_reason=reason), len(recent))

    if recent:
        retry_at = recent[-1] + backoff_seconds(len(recent), policy)
        if now < retry_at:
            reason = f"backing off after {len(recent)} failure(s): next start in {retry_at - now:.0f}s"
            return Decision(Action.WAIT, reason, replace(state, last_reason=reason), len(recent), retry_at)

    reason = "no stream run in progress: starting one" + (
        f" (attempt after {len(recent)} recent failure(s))" if recent else ""
    )
    started = replace(state, attempts=state.attempts + 1, gave_up=False, last_reason=reason)
    return Decision(Action.START, reason, started, len(recent))
