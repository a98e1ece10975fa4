"""The verdict of ``make cluster-check``: what counts as a pass, and how days are split into rounds.

The check itself needs the whole topology (it runs as ``make cluster-check`` in CI); these pin its
rules so that a weakened verdict fails here.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from smartmeter_assets.cluster.check import FAULTS, CheckReport, Fault, split_rounds


def passing_report() -> CheckReport:
    faults = [Fault(name, pid=100 + i, recovered=True, new_pid=200 + i).as_dict() for i, name in enumerate(FAULTS)]
    return CheckReport(published=10, raw=9, rejected=1, duplicate_keys=0, faults=faults)


def test_a_clean_run_passes() -> None:
    assert passing_report().passed


@pytest.mark.parametrize(
    "spoil",
    [
        lambda r: setattr(r, "raw", 8),  # a reading lost
        lambda r: setattr(r, "raw", 10),  # a reading landed twice
        lambda r: setattr(r, "duplicate_keys", 1),
        lambda r: r.faults[2].update(recovered=False),
        lambda r: r.faults.pop(),  # a fault never injected
        lambda r: setattr(r, "checks_failed", 1),
        lambda r: setattr(r, "published", 0) or setattr(r, "raw", 0) or setattr(r, "rejected", 0),
    ],
)
def test_anything_wrong_fails(spoil: object) -> None:
    report = passing_report()
    spoil(report)  # type: ignore[operator]
    assert not report.passed


def test_days_are_split_into_one_round_per_fault_in_order() -> None:
    days = [date(2013, 1, 7) + timedelta(days=n) for n in range(10)]
    rounds = split_rounds(days, len(FAULTS))
    assert [len(r) for r in rounds] == [3, 3, 2, 2]
    assert [d for r in rounds for d in r] == days
    with pytest.raises(ValueError, match="at least 4 days"):
        split_rounds(days[:3], len(FAULTS))


def test_the_lake_counts_the_check_reports_come_from_the_reconciliation_code(tmp_path: Path) -> None:
    """The check's figures are read by the same functions as the reconciliation (an empty lake here)."""
    from smartmeter_assets.cluster.check import lake_counts
    from smartmeter_assets.lake.storage import Lake

    assert lake_counts(Lake(str(tmp_path / "lake"))) == ({}, {}, {}, 0)
