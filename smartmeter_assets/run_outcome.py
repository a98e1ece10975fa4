"""What a Dagster run of ``smartmeter run`` said, in a form that crosses a process boundary.

``smartmeter run`` counts every check and failed report of its runs into one summary line. Most
of its runs execute in its own process; the meter-day detector runs in a process of its own beside
the checks and the other reports (:mod:`smartmeter_assets.detector_run`), so its outcome comes back
as this JSON, and both kinds are counted the same way.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dagster import AssetCheckSeverity, ExecuteInProcessResult


@dataclass(frozen=True)
class CheckOutcome:
    name: str  # "asset:check"
    passed: bool
    warn_only: bool  # a WARN check: reported, never a failed run


@dataclass
class RunOutcome:
    checks: list[CheckOutcome] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, result: ExecuteInProcessResult) -> RunOutcome:
        checks = [
            CheckOutcome(
                f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}",
                evaluation.passed,
                evaluation.severity == AssetCheckSeverity.WARN,
            )
            for evaluation in result.get_asset_check_evaluations()
        ]
        failed = [event.step_key or "" for event in result.all_events if event.is_step_failure]
        return cls(checks, failed)

    def __add__(self, other: RunOutcome) -> RunOutcome:
        """Two runs' outcomes as one (a process that made two runs reports them together)."""
        return RunOutcome(self.checks + other.checks, self.failed_steps + other.failed_steps)

    def write(self, path: Path) -> None:
        """Written whole then renamed: the reader never sees half an outcome."""
        staging = path.with_name(f".{path.name}.partial")
        staging.write_text(json.dumps(asdict(self)))
        staging.replace(path)

    @classmethod
    def read(cls, path: Path) -> RunOutcome:
        data = json.loads(path.read_text())
        checks = [CheckOutcome(**check) for check in data["checks"]]
        return cls(checks, list(data["failed_steps"]))
