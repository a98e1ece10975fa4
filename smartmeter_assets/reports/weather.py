"""Weather sensitivity: how a segment's daily demand moves with temperature, humidity and wind.

Heating is the one strong weather effect on UK household load, and it only starts below a balance
point: demand per meter-day = base + slope x max(0, balance - temperature). The balance point is
chosen per segment from a grid by the best fit (R²), ties going to the UK's conventional 15.5 °C
degree-day base (with winter-only data every balance above the warmest day fits equally well).
Humidity and wind get a plain least-squares slope and correlation against the same daily demand.
Everything is fitted in DuckDB (``regr_slope``, ``regr_r2``) over daily rows per segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from smartmeter_assets.contracts import RAW, UNKNOWN_ACORN_CATEGORY

#: Candidate balance points, °C (10.0, 10.5, ... 20.0).
BALANCE_POINTS = tuple(x / 2 for x in range(20, 41))
CONVENTIONAL_BALANCE = 15.5
#: Fewer days than this and a slope means nothing: the fit is reported as null.
MIN_DAYS_FOR_FIT = 5


@dataclass(frozen=True)
class WeatherSensitivity:
    daily: pd.DataFrame  # day x acorn_category: kwh_per_meter_day, temperature, humidity, wind_speed
    fits: pd.DataFrame  # acorn_category: balance_point, heating_slope, base_kwh, r2, humidity/wind slopes

    def summary(self) -> dict[str, Any]:
        def rounded(value: Any, digits: int) -> float | None:
            return None if pd.isna(value) else round(float(value), digits)

        return {
            row.acorn_category: {
                "heating_slope_kwh_per_degree": rounded(row.heating_slope, 4),
                "balance_point_c": rounded(row.balance_point, 1),
                "r2": rounded(row.r2, 3),
                "humidity_corr": rounded(row.humidity_corr, 3),
                "wind_corr": rounded(row.wind_corr, 3),
                "days": int(row.days),
            }
            for row in self.fits.itertuples()
        }


def weather_sensitivity(connection: duckdb.DuckDBPyConnection) -> WeatherSensitivity:
    """Daily demand per meter against the day's mean observed weather, fitted per ACORN category."""
    daily = connection.sql(
        f"""
        SELECT reading_date AS day, coalesce(acorn_category, '{UNKNOWN_ACORN_CATEGORY}') AS acorn_category,
               sum(energy_kwh) / count(DISTINCT meter_id) AS kwh_per_meter_day,
               avg(temperature) AS temperature, avg(humidity) AS humidity, avg(wind_speed) AS wind_speed,
               count(DISTINCT meter_id) AS meters
        FROM {RAW.name} GROUP BY ALL ORDER BY ALL
        """
    ).df()
    connection.register("weather_daily", daily)
    connection.register("balance_points", pd.DataFrame({"balance": BALANCE_POINTS}))
    fits = connection.sql(
        f"""
        WITH grid AS (
            SELECT acorn_category, balance,
                   regr_slope(kwh_per_meter_day, greatest(balance - temperature, 0)) AS heating_slope,
                   regr_intercept(kwh_per_meter_day, greatest(balance - temperature, 0)) AS base_kwh,
                   regr_r2(kwh_per_meter_day, greatest(balance - temperature, 0)) AS r2
            FROM weather_daily, balance_points GROUP BY ALL),
        best AS (
            SELECT * FROM grid QUALIFY row_number() OVER (
                PARTITION BY acorn_category
                ORDER BY round(coalesce(r2, -1), 6) DESC, abs(balance - {CONVENTIONAL_BALANCE}), balance) = 1),
        other AS (
            SELECT acorn_category, count(*) FILTER (WHERE temperature IS NOT NULL) AS days,
                   regr_slope(kwh_per_meter_day, humidity) AS humidity_slope,
                   corr(kwh_per_meter_day, humidity) AS humidity_corr,
                   regr_slope(kwh_per_meter_day, wind_speed) AS wind_slope,
                   corr(kwh_per_meter_day, wind_speed) AS wind_corr,
                   min(temperature) AS min_temperature, max(temperature) AS max_temperature
            FROM weather_daily GROUP BY ALL)
        SELECT o.acorn_category, o.days,
               CASE WHEN o.days >= {MIN_DAYS_FOR_FIT} THEN b.balance END AS balance_point,
               CASE WHEN o.days >= {MIN_DAYS_FOR_FIT} THEN b.heating_slope END AS heating_slope,
               CASE WHEN o.days >= {MIN_DAYS_FOR_FIT} THEN b.base_kwh END AS base_kwh,
               CASE WHEN o.days >= {MIN_DAYS_FOR_FIT} THEN b.r2 END AS r2,
               o.humidity_slope, o.humidity_corr, o.wind_slope, o.wind_corr,
               o.min_temperature, o.max_temperature
        FROM other o LEFT JOIN best b USING (acorn_category) ORDER BY o.acorn_category
        """
    ).df()
    connection.unregister("weather_daily")
    connection.unregister("balance_points")
    return WeatherSensitivity(daily=daily, fits=fits)


def weather_figure(sensitivity: WeatherSensitivity) -> Figure:
    """Daily demand per meter against mean temperature, with each segment's fitted heating line."""
    figure = Figure(figsize=(7, 4.5))
    axes = figure.subplots()
    fits = sensitivity.fits.set_index("acorn_category")
    for category, rows in sensitivity.daily.groupby("acorn_category"):
        points = axes.scatter(rows["temperature"], rows["kwh_per_meter_day"], s=12, label=str(category))
        if category in fits.index and not pd.isna(fits.loc[category, "heating_slope"]):
            fit = fits.loc[category]
            grid = np.linspace(rows["temperature"].min(), rows["temperature"].max(), 50)
            line = fit["base_kwh"] + fit["heating_slope"] * np.maximum(fit["balance_point"] - grid, 0)
            axes.plot(grid, line, color=points.get_facecolor()[0])
    axes.set_xlabel("daily mean temperature, °C (observed)")
    axes.set_ylabel("kWh per meter-day")
    axes.set_title("Weather sensitivity: heating slope below the balance point")
    axes.legend()
    return figure
