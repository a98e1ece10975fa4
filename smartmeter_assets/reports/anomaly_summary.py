"""Anomalies by meter, reason and day (the original's second query), and who keeps offending.

Reads ``anomalies/`` (one row per flagged reading, every reason it broke) beside ``raw/`` (for
each meter's reading count, so a rate can be given). A meter is *persistently* anomalous when it
is flagged on at least :data:`PERSISTENT_MIN_DAYS` distinct days: one odd half-hour is noise, the
same meter flagged day after day is a visit from the utility (fault, tampering, or a tariff that
does not fit the household).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
from matplotlib.figure import Figure

from smartmeter_assets.contracts import ANOMALIES, RAW

PERSISTENT_MIN_DAYS = 3


@dataclass(frozen=True)
class AnomalySummary:
    by_meter_reason_day: pd.DataFrame  # meter_id, reason, day, anomalies
    by_reason: pd.DataFrame  # reason: anomalies, meters, days
    by_meter: pd.DataFrame  # meter_id: anomalous readings, days, reasons, rate, persistent
    flagged_readings: int

    @property
    def persistent_meters(self) -> list[str]:
        return self.by_meter.loc[self.by_meter["persistent"], "meter_id"].tolist()

    def summary(self) -> dict[str, Any]:
        return {
            "flagged_readings": self.flagged_readings,
            "by_reason": {r.reason: int(r.anomalies) for r in self.by_reason.itertuples()},
            "meters_flagged": len(self.by_meter),
            "persistent_meters": self.persistent_meters,
            "persistent_min_days": PERSISTENT_MIN_DAYS,
        }


def anomaly_summary(connection: duckdb.DuckDBPyConnection) -> AnomalySummary:
    connection.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE flag_rows AS
        SELECT meter_id, reading_date, unnest(anomaly_reasons) AS reason FROM {ANOMALIES.name}
        """
    )
    by_meter_reason_day = connection.sql(
        """
        SELECT meter_id, reason, reading_date AS day, count(*) AS anomalies
        FROM flag_rows GROUP BY ALL ORDER BY anomalies DESC, meter_id, reason, day
        """
    ).df()
    by_reason = connection.sql(
        """
        SELECT reason, count(*) AS anomalies, count(DISTINCT meter_id) AS meters,
               count(DISTINCT reading_date) AS days
        FROM flag_rows GROUP BY ALL ORDER BY anomalies DESC, reason
        """
    ).df()
    by_meter = connection.sql(
        f"""
        WITH per_meter AS (
            SELECT meter_id, count(*) AS anomalous_readings,
                   count(DISTINCT reading_date) AS anomalous_days
            FROM {ANOMALIES.name} GROUP BY meter_id),
        reasons AS (
            SELECT meter_id, list(DISTINCT reason ORDER BY reason) AS reasons
            FROM flag_rows GROUP BY meter_id),
        readings AS (
            SELECT meter_id, count(*) AS readings FROM {RAW.name}
            WHERE meter_id IN (SELECT meter_id FROM per_meter) GROUP BY meter_id)
        SELECT meter_id, anomalous_days, anomalous_readings, reasons, readings,
               anomalous_readings / nullif(readings, 0) AS anomaly_rate,
               anomalous_days >= {PERSISTENT_MIN_DAYS} AS persistent
        FROM per_meter LEFT JOIN reasons USING (meter_id) LEFT JOIN readings USING (meter_id)
        ORDER BY anomalous_days DESC, anomalous_readings DESC, meter_id
        """
    ).df()
    ((flagged_readings,),) = connection.execute(f"SELECT count(*) FROM {ANOMALIES.name}").fetchall()
    connection.execute("DROP TABLE flag_rows")
    return AnomalySummary(by_meter_reason_day, by_reason, by_meter, int(flagged_readings))


def anomaly_figure(summary: AnomalySummary, top_meters: int = 15) -> Figure:
    """Left: flagged readings per day by reason. Right: the most-flagged meters by distinct days."""
    figure = Figure(figsize=(12, 4.5))
    days, meters = figure.subplots(1, 2)
    if summary.by_meter_reason_day.empty:
        for axes in (days, meters):
            axes.text(0.5, 0.5, "no anomalies flagged", ha="center", va="center", transform=axes.transAxes)
        return figure
    per_day = summary.by_meter_reason_day.groupby(["day", "reason"])["anomalies"].sum().unstack(fill_value=0)
    bottom = None
    for reason in per_day.columns:
        days.bar(per_day.index, per_day[reason], bottom=bottom, label=reason, width=1.0)
        bottom = per_day[reason] if bottom is None else bottom + per_day[reason]
    days.set_ylabel("flagged readings")
    days.set_title("Anomalies per day by reason")
    days.legend(fontsize="small")
    top = summary.by_meter.head(top_meters).iloc[::-1]
    colors = ["tab:red" if p else "tab:gray" for p in top["persistent"]]
    meters.barh(top["meter_id"], top["anomalous_days"], color=colors)
    meters.axvline(PERSISTENT_MIN_DAYS, linestyle="--", color="black", linewidth=1)
    meters.set_xlabel("days with at least one anomaly (red: persistent)")
    meters.set_title("Most anomalous meters")
    figure.autofmt_xdate()
    return figure
