"""The reports keep themselves fresh: an ``AutomationCondition`` on each, and the sensor that evaluates it.

Why a cron and not ``AutomationCondition.eager()``: the lake tables are observable assets whose
data version is the Delta table version, and the stream sensor observes them every 15 s. While the
stream writes (a replayed day every 10 s under ``make up``, a micro-batch every few seconds on a
live feed) almost every observation carries a new version, so an eager report would be requested
on nearly every evaluation: the same DuckDB queries, plots and forecast backtest over and over,
each run outdated before it ends. A cron alone would be wrong the other way: it reruns reports
over a lake that has not changed (a finished replay, a stopped feed).

So a report is requested when BOTH happened since it was last requested or materialized:
a tick of ``SMARTMETER_REPORTS_REFRESH_CRON`` (every 2 minutes by default: a user of ``make up``
sees the reports within minutes, and on the sample they take seconds) and a new data version
of one of its lake tables. Not while a dependency or the report itself is running, and not while
a lake table was never observed (the report would only fail on an empty lake).

``meter_day_alerts`` is left out: it is partitioned by the dataset's days and judges the days a
user backfills; Dagster's "latest time window" would only ever pick the dataset's last day.
``anomaly_quality`` scores whichever days the detector has judged, so its refresh does not wait
for the detector (its partitions are not required to exist).
"""

from __future__ import annotations

from dagster import (
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
)

from smartmeter_assets.defs.reports.assets import ALERTS_TABLE, REPORT_ASSETS
from smartmeter_assets.settings import Settings

REFRESH_SENSOR = "reports_refresh_sensor"
CRON_TIMEZONE = "UTC"
#: How often the daemon evaluates the condition (Dagster's default for automation sensors): the cron
#: decides how often reports run, this only how soon after a tick they are requested.
EVALUATION_SECONDS = 30
REFRESHED = [report for report in REPORT_ASSETS if report.key != AssetKey(ALERTS_TABLE)]


def refresh_condition(cron: str) -> AutomationCondition:
    """A cron tick and a new lake version since the last request, nothing upstream or here in flight."""
    return (
        AutomationCondition.cron_tick_passed(cron, CRON_TIMEZONE).since_last_handled()
        & AutomationCondition.any_deps_updated().since_last_handled()
        & ~AutomationCondition.any_deps_missing().ignore(AssetSelection.assets(ALERTS_TABLE))
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label(f"refresh on '{cron}' when the lake changed")


def refreshed_reports(settings: Settings) -> list[AssetsDefinition]:
    """The report assets, each with the refresh condition of ``settings`` attached."""
    condition = refresh_condition(settings.reports_refresh_cron)
    return [
        report.map_asset_specs(lambda spec: spec.replace_attributes(automation_condition=condition))
        if report.key != AssetKey(ALERTS_TABLE)
        else report
        for report in REPORT_ASSETS
    ]


def build_refresh_sensor(settings: Settings) -> AutomationConditionSensorDefinition:
    """Evaluates the reports' conditions in the daemon.

    Dagster's implicit ``default_automation_condition_sensor`` starts STOPPED on a new instance, so
    under ``make up`` nothing would refresh until someone switched it on in the UI. This sensor
    targets the same assets and is declared RUNNING with the embedded broker (the demo), as the
    stream sensor is; against a real cluster an operator turns it on (Automation tab), once the
    cron suits the data size.
    """
    return AutomationConditionSensorDefinition(
        REFRESH_SENSOR,
        target=AssetSelection.assets(*REFRESHED),
        minimum_interval_seconds=EVALUATION_SECONDS,
        default_status=DefaultSensorStatus.RUNNING if settings.kafka_is_embedded else DefaultSensorStatus.STOPPED,
        description=f"Refreshes the reports on '{settings.reports_refresh_cron}' when the lake changed.",
    )
