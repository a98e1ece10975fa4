"""Peak demand: each segment's daily peak half-hour, its evening-peak share, and the ToU shift.

A segment here is ACORN category x tariff. The evening peak is the contract's ``is_peak_hour``
(17:00-21:00). The ToU trial priced the evening high, so the question a utility asks is whether
ToU households put a smaller share of their day into that window than Std households of the same
category: the shift is reported in percentage points, ToU minus Std (negative = load moved out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
from matplotlib.figure import Figure

from smartmeter_assets.contracts import PEAK_HOURS, RAW, UNKNOWN_ACORN_CATEGORY

UNKNOWN = UNKNOWN_ACORN_CATEGORY
HALF_HOURS_PER_DAY = 48


@dataclass(frozen=True)
class PeakDemand:
    daily: pd.DataFrame  # day x segment: peak_time, peak_kwh, peak_kwh_per_meter, evening_share
    segments: pd.DataFrame  # segment: evening_share (energy-weighted), mean daily peak per meter
    tou_shift: pd.DataFrame  # acorn_category: evening shares of Std and ToU, shift_points
    profile: pd.DataFrame  # tariff_type x slot (0..47): kWh per meter per half-hour

    def summary(self) -> dict[str, Any]:
        return {
            "evening_share": {
                f"{r.acorn_category}/{r.tariff_type}": round(float(r.evening_share), 4)
                for r in self.segments.itertuples()
            },
            "mean_daily_peak_kwh_per_meter": {
                f"{r.acorn_category}/{r.tariff_type}": round(float(r.mean_peak_kwh_per_meter), 4)
                for r in self.segments.itertuples()
            },
            "tou_minus_std_evening_share_points": {
                r.acorn_category: None if pd.isna(r.shift_points) else round(float(r.shift_points), 2)
                for r in self.tou_shift.itertuples()
            },
        }


def peak_demand(connection: duckdb.DuckDBPyConnection) -> PeakDemand:
    raw = RAW.name
    # raw/ holds a reading once per (meter_id, timestamp): a half-hour's readings count its meters
    # (a DISTINCT here tripled the query's time).
    connection.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW peak_slot AS
        SELECT reading_date AS day,
               coalesce(acorn_category, '{UNKNOWN}') AS acorn_category,
               coalesce(tariff_type, '{UNKNOWN}') AS tariff_type,
               timestamp, sum(energy_kwh) AS kwh, count(meter_id) AS meters,
               bool_or(is_peak_hour) AS is_peak_hour
        FROM {raw} GROUP BY ALL
        """
    )
    daily = connection.sql(
        """
        WITH ranked AS (
            SELECT *, row_number() OVER (
                PARTITION BY day, acorn_category, tariff_type ORDER BY kwh DESC, timestamp) AS rank,
                sum(kwh) OVER (PARTITION BY day, acorn_category, tariff_type) AS day_kwh,
                sum(CASE WHEN is_peak_hour THEN kwh ELSE 0 END)
                    OVER (PARTITION BY day, acorn_category, tariff_type) AS evening_kwh
            FROM peak_slot)
        SELECT day, acorn_category, tariff_type, timestamp AS peak_time, kwh AS peak_kwh,
               kwh / meters AS peak_kwh_per_meter, day_kwh, evening_kwh,
               CASE WHEN day_kwh > 0 THEN evening_kwh / day_kwh END AS evening_share
        FROM ranked WHERE rank = 1 ORDER BY day, acorn_category, tariff_type
        """
    ).df()
    connection.register("peak_daily", daily)
    segments = connection.sql(
        """
        SELECT acorn_category, tariff_type,
               sum(evening_kwh) / nullif(sum(day_kwh), 0) AS evening_share,
               avg(peak_kwh_per_meter) AS mean_peak_kwh_per_meter,
               mode(hour(peak_time)) AS usual_peak_hour, count(*) AS days
        FROM peak_daily GROUP BY ALL ORDER BY ALL
        """
    ).df()
    connection.register("peak_segments", segments)
    tou_shift = connection.sql(
        """
        SELECT acorn_category,
               max(evening_share) FILTER (WHERE tariff_type = 'Std') AS std_evening_share,
               max(evening_share) FILTER (WHERE tariff_type = 'ToU') AS tou_evening_share,
               100 * (max(evening_share) FILTER (WHERE tariff_type = 'ToU')
                      - max(evening_share) FILTER (WHERE tariff_type = 'Std')) AS shift_points
        FROM peak_segments GROUP BY ALL ORDER BY ALL
        """
    ).df()
    profile = connection.sql(
        f"""
        SELECT coalesce(tariff_type, '{UNKNOWN}') AS tariff_type,
               hour(timestamp) * 2 + minute(timestamp) // 30 AS slot,
               avg(energy_kwh) AS kwh_per_meter
        FROM {raw} GROUP BY ALL ORDER BY ALL
        """
    ).df()
    connection.execute("DROP VIEW peak_slot")
    connection.unregister("peak_daily")
    connection.unregister("peak_segments")
    return PeakDemand(daily=daily, segments=segments, tou_shift=tou_shift, profile=profile)


def peak_figure(peaks: PeakDemand) -> Figure:
    """Left: the average day per tariff with the evening peak shaded. Right: daily peak per meter."""
    figure = Figure(figsize=(12, 4.5))
    day, trend = figure.subplots(1, 2)
    for tariff, rows in peaks.profile.groupby("tariff_type"):
        day.plot(rows["slot"] / 2, rows["kwh_per_meter"], label=str(tariff))
    day.axvspan(PEAK_HOURS[0], PEAK_HOURS[1], alpha=0.15, color="orange", label="evening peak")
    day.set_xlabel("hour of day (GMT)")
    day.set_ylabel("kWh per meter per half-hour")
    day.set_title("Average day: ToU against Std")
    day.legend()
    for (category, tariff), rows in peaks.daily.groupby(["acorn_category", "tariff_type"]):
        trend.plot(rows["day"], rows["peak_kwh_per_meter"], label=f"{category}/{tariff}")
    trend.set_ylabel("daily peak half-hour, kWh per meter")
    trend.set_title("Daily peak per segment")
    trend.legend(fontsize="small")
    figure.autofmt_xdate()
    return figure
