"""Materialize the reports, for ``smartmeter run`` and anyone scripting them.

The meter-day detector is daily-partitioned; it runs once over every day ``raw/`` holds (a single
run, thanks to its single-run backfill policy). The unpartitioned reports run together; those that
read the detector's alerts (``anomaly_quality``) run after it, so they score the days just judged.
:func:`materialize_reports` does all of it in order; ``smartmeter run`` runs the detector in a
process of its own beside the others (:mod:`smartmeter_assets.detector_run`), its dependents after
it there (:func:`split_beside_detector`).
"""

from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetKey, DagsterInstance, Definitions, ExecuteInProcessResult, JobDefinition

from smartmeter_assets.contracts import RAW
from smartmeter_assets.defs.reports.assets import REPORT_ASSETS
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.reports.lake_query import lake_connection

ALERTS_KEY = AssetKey("meter_day_alerts")
#: Reports ``smartmeter run`` makes in the detector's process, after the detector, so that both
#: processes end together. At 90 full-scale days the parent spent 52 s on the lake's checks and 30 s
#: on the reports (the forecast 19 s of them) while the detector's process was done after 53 s. At
#: 14 days, once the detector's features took 5.9 s instead of 8.4 and ``anomaly_quality`` ran beside
#: it, the parent's checks and reports took 10.3 s and the detector's process 8.1: peak demand
#: (0.9 s) went over too. At 90 days that leaves the detector's process the longer (73 s: alerts 42,
#: forecast 23, quality 5, peak demand 4; the parent 60 s, reconciliation 41 of it): a fixed split
#: suits one size of run; the one that misses its goal (14 days at 45,000 readings/s) was chosen.
BESIDE_DETECTOR_KEYS = frozenset({AssetKey("demand_forecast"), AssetKey("peak_demand")})
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
REPORT_KEYS = frozenset(a.key for a in REPORT_ASSETS)


def detector_dependents(defs: Definitions) -> set[AssetKey]:
    """The reports that read the detector's alerts: they run after it."""
    graph = defs.resolve_asset_graph()
    return {key for key in REPORT_KEYS if ALERTS_KEY in graph.get(key).parent_keys}


@dataclass(frozen=True)
class ReportSplit:
    """Where ``smartmeter run`` makes each report besides the detector, and when."""

    beside: frozenset[AssetKey]  # in the detector's process, after it
    parent: frozenset[AssetKey]  # in the parent, while the detector runs
    after: frozenset[AssetKey]  # in the parent, once the detector's process is done


def split_beside_detector(defs: Definitions) -> ReportSplit:
    """:data:`BESIDE_DETECTOR_KEYS`, and the detector's dependents that read no report of the parent,
    go in the detector's process; the other dependents wait for both processes.

    Why the dependents go beside it: they wait for the detector anyway. Made in the parent they
    ran after everything else (``anomaly_quality``: the last 1.2 s of a D=14 run, one core idle);
    in the detector's process they run while the parent still checks the lake.
    """
    graph = defs.resolve_asset_graph()
    dependents = detector_dependents(defs)
    parent = REPORT_KEYS - {ALERTS_KEY} - dependents - BESIDE_DETECTOR_KEYS
    beside = BESIDE_DETECTOR_KEYS | {key for key in dependents if not graph.get(key).parent_keys & parent}
    return ReportSplit(frozenset(beside), frozenset(parent), frozenset(dependents - beside))


def run_detector(defs: Definitions, instance: DagsterInstance, lake: Lake) -> ExecuteInProcessResult | None:
    """The detector (and its checks) over every day ``raw/`` holds, as one run; None while raw/ is empty."""
    ((first, last),) = (
        lake_connection(lake, (RAW,)).execute(f"SELECT min(reading_date), max(reading_date) FROM {RAW.name}").fetchall()
    )
    if first is None:
        return None
    return report_job(defs, {ALERTS_KEY}).execute_in_process(
        instance=instance,
        tags={RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()},
        raise_on_error=False,
    )


def run_reports(defs: Definitions, instance: DagsterInstance, keys: set[AssetKey]) -> ExecuteInProcessResult:
    """These unpartitioned reports and their checks, as one run; failures are in the result."""
    return report_job(defs, keys).execute_in_process(instance=instance, raise_on_error=False)


def report_job(defs: Definitions, keys: set[AssetKey]) -> JobDefinition:
    checks = defs.resolve_asset_graph().asset_check_keys
    return defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection=keys, asset_check_selection={c for c in checks if c.asset_key in keys}
    )


def materialize_reports(defs: Definitions, instance: DagsterInstance, lake: Lake) -> list[ExecuteInProcessResult]:
    """Run the detector over the lake's days, then every other report; failures are in the results."""
    detector = run_detector(defs, instance, lake)
    others = run_reports(defs, instance, set(REPORT_KEYS - {ALERTS_KEY}))
    return [others] if detector is None else [detector, others]
