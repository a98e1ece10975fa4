"""Demand by segment: ACORN category and group x temperature band x tariff, per day and overall.

The original pipeline's first sample query (average consumption by ACORN category and temperature
band), extended with the group and the tariff. It reads ``raw/``, the complete record of readings:
the windowed aggregates drop rows the watermark calls late and would count a reading twice if the
windows were set to slide, so totals are taken from the readings themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
from matplotlib.figure import Figure

from smartmeter_assets.contracts import (
    RAW,
    TEMPERATURE_BANDS,
    UNKNOWN_ACORN_CATEGORY,
    UNKNOWN_TEMPERATURE_BAND,
)

#: A reading without a household (unknown meter) or without weather still counts, under this label.
UNKNOWN = UNKNOWN_ACORN_CATEGORY
SEGMENT_COLUMNS = ("acorn_category", "acorn_group", "temperature_band", "tariff_type")

_SEGMENT_SELECT = f"""
    coalesce(acorn_category, '{UNKNOWN}') AS acorn_category,
    coalesce(acorn_group, '{UNKNOWN}') AS acorn_group,
    coalesce(temperature_band, '{UNKNOWN_TEMPERATURE_BAND}') AS temperature_band,
    coalesce(tariff_type, '{UNKNOWN}') AS tariff_type
"""


@dataclass(frozen=True)
class SegmentDemand:
    daily: pd.DataFrame  # day x segment: total_kwh, readings, meters, mean_kwh_per_reading
    overall: pd.DataFrame  # segment: the same plus meter_days and kwh_per_meter_day
    by_category: pd.DataFrame  # acorn_category x tariff_type: kwh_per_meter_day

    def summary(self) -> dict[str, Any]:
        return {
            "total_kwh": float(self.overall["total_kwh"].sum()),
            "readings": int(self.overall["readings"].sum()),
            "segments": len(self.overall),
            "days": int(self.daily["day"].nunique()),
            "kwh_per_meter_day": {
                f"{row.acorn_category}/{row.tariff_type}": round(float(row.kwh_per_meter_day), 4)
                for row in self.by_category.itertuples()
            },
        }


def demand_by_segment(connection: duckdb.DuckDBPyConnection) -> SegmentDemand:
    """Consumption per segment per day and overall; kWh per meter-day makes segments comparable.

    One pass over raw/ (per day, meter and segment: a few rows per meter-day instead of 48); every
    figure is rolled up from it. A meter is in a (day, segment) group at most once there, so its
    rows count its meters.
    """
    connection.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE segment_meter_days AS
        SELECT reading_date AS day, meter_id, {_SEGMENT_SELECT},
               sum(energy_kwh) AS kwh, count(*) AS readings, count(energy_kwh) AS valued
        FROM {RAW.name} GROUP BY ALL
        """
    )
    figures = "sum(kwh) AS total_kwh, sum(readings)::BIGINT AS readings"
    mean = "sum(kwh) / sum(valued) AS mean_kwh_per_reading"
    meter_days = "count(DISTINCT (meter_id, day))"
    daily = connection.sql(
        f"""
        SELECT day, {", ".join(SEGMENT_COLUMNS)}, {figures}, count(meter_id) AS meters, {mean}
        FROM segment_meter_days GROUP BY ALL ORDER BY ALL
        """
    ).df()
    overall = connection.sql(
        f"""
        SELECT {", ".join(SEGMENT_COLUMNS)}, {figures}, count(DISTINCT meter_id) AS meters, {mean},
               {meter_days} AS meter_days, sum(kwh) / {meter_days} AS kwh_per_meter_day
        FROM segment_meter_days GROUP BY ALL
        ORDER BY total_kwh DESC, acorn_category, acorn_group, temperature_band, tariff_type
        """
    ).df()
    by_category = connection.sql(
        f"""
        SELECT acorn_category, tariff_type, count(DISTINCT meter_id) AS meters,
               sum(kwh) / {meter_days} AS kwh_per_meter_day
        FROM segment_meter_days GROUP BY ALL ORDER BY ALL
        """
    ).df()
    return SegmentDemand(daily=daily, overall=overall, by_category=by_category)


def demand_figure(demand: SegmentDemand) -> Figure:
    """Left: kWh per meter-day by category and tariff. Right: daily demand by temperature band."""
    figure = Figure(figsize=(12, 4.5))
    bars, days = figure.subplots(1, 2)
    pivot = demand.by_category.pivot(index="acorn_category", columns="tariff_type", values="kwh_per_meter_day")
    width = 0.8 / max(len(pivot.columns), 1)
    for offset, tariff in enumerate(pivot.columns):
        positions = [i + offset * width for i in range(len(pivot.index))]
        bars.bar(positions, pivot[tariff].fillna(0.0), width=width, label=tariff)
    bars.set_xticks([i + width * (len(pivot.columns) - 1) / 2 for i in range(len(pivot.index))])
    bars.set_xticklabels(pivot.index)
    bars.set_ylabel("kWh per meter-day")
    bars.set_title("Demand by ACORN category and tariff")
    bars.legend(title="tariff")
    per_band = demand.daily.groupby(["day", "temperature_band"])["total_kwh"].sum().unstack(fill_value=0.0)
    order = [b.label for b in TEMPERATURE_BANDS if b.label in per_band.columns]
    order += [c for c in per_band.columns if c not in order]
    bottom = None
    for band in order:
        days.bar(per_band.index, per_band[band], bottom=bottom, label=band, width=1.0)
        bottom = per_band[band] if bottom is None else bottom + per_band[band]
    days.set_ylabel("kWh per day (all meters)")
    days.set_title("Daily demand by temperature band")
    days.legend(title="band")
    figure.autofmt_xdate()
    return figure
