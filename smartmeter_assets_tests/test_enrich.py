"""Enrichment: given staged readings, households and weather, the message rows a day publishes."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from smartmeter_assets.contracts import (
    STAGED_HOUSEHOLD_COLUMNS,
    STAGED_READING_COLUMNS,
    STAGED_WEATHER_DAILY_COLUMNS,
    STAGED_WEATHER_HOURLY_COLUMNS,
)
from smartmeter_assets.enrich import ENRICHED_COLUMNS, EnrichmentError, enrich_readings


def readings_frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    stamps = pd.to_datetime([r[1] for r in rows])
    return pd.DataFrame(
        {
            "meter_id": [r[0] for r in rows],
            "timestamp": stamps,
            "energy_kwh": [r[2] for r in rows],
            "reading_date": [s.date() for s in stamps],
        },
        columns=list(STAGED_READING_COLUMNS),
    )


def households_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("MAC000002", "Std", "ACORN-A", "Affluent", "block_0"),
            ("MAC000003", "ToU", "ACORN-P", "Adversity", "block_1"),
        ],
        columns=list(STAGED_HOUSEHOLD_COLUMNS),
    )


def hourly_frame(hours: dict[str, tuple[float, float, float, str, float | None]]) -> pd.DataFrame:
    rows = []
    for hour, (temperature, humidity, wind, summary, pressure) in hours.items():
        rows.append(
            {
                "time": pd.Timestamp(hour),
                "temperature": temperature,
                "apparent_temperature": temperature - 1,
                "dew_point": 1.0,
                "humidity": humidity,
                "pressure": pressure,
                "wind_speed": wind,
                "wind_bearing": 200.0,
                "visibility": 10.0,
                "precip_type": "rain",
                "icon": "cloudy",
                "weather_summary": summary,
            }
        )
    return pd.DataFrame(rows, columns=list(STAGED_WEATHER_HOURLY_COLUMNS))


def daily_frame(days: dict[date, float]) -> pd.DataFrame:
    rows = [
        {
            "day": day,
            "cloud_cover": cover,
            "temperature_min": 1.0,
            "temperature_max": 9.0,
            "humidity": 0.8,
            "wind_speed": 3.0,
            "pressure": 1010.0,
            "uv_index": 1.0,
            "summary": "Cloudy all day",
        }
        for day, cover in days.items()
    ]
    return pd.DataFrame(rows, columns=list(STAGED_WEATHER_DAILY_COLUMNS))


def test_a_winter_reading_gets_its_household_its_hour_and_its_day() -> None:
    readings = readings_frame([("MAC000002", "2012-12-01 10:30:00", 0.219)])
    hourly = hourly_frame(
        {
            "2012-12-01 10:00": (4.5, 0.81, 3.2, "Overcast", 1002.5),
            "2012-12-01 11:00": (9.0, 0.5, 1.0, "Clear", 1020.0),
        }
    )
    daily = daily_frame({date(2012, 12, 1): 0.75, date(2012, 12, 2): 0.1})

    enriched, counts = enrich_readings(readings, households_frame(), hourly, daily)

    assert list(enriched.columns) == list(ENRICHED_COLUMNS)
    assert enriched.to_dict("records") == [
        {
            "meter_id": "MAC000002",
            "timestamp": "2012-12-01 10:30:00",
            "energy_kwh": 0.219,
            "tariff_type": "Std",
            "acorn_group": "ACORN-A",
            "acorn_category": "Affluent",
            "temperature": 4.5,
            "humidity": 0.81,
            "wind_speed": 3.2,
            "cloud_cover": 0.75,
            "weather_summary": "Overcast",
            "precip_intensity": pytest.approx(float("nan"), nan_ok=True),
            "pressure": 1002.5,
        }
    ]
    assert counts.readings == 1 and counts.unknown_household_readings == 0
    assert counts.missing_hourly_weather_readings == 0 and counts.missing_daily_weather_readings == 0


def test_an_unknown_household_keeps_its_readings_with_null_tariff_and_acorn() -> None:
    readings = readings_frame([("MAC999999", "2012-12-01 10:00:00", 0.1), ("MAC999999", "2012-12-01 10:30:00", 0.2)])
    hourly = hourly_frame({"2012-12-01 10:00": (4.5, 0.81, 3.2, "Overcast", 1002.5)})
    enriched, counts = enrich_readings(readings, households_frame(), hourly, daily_frame({date(2012, 12, 1): 0.5}))

    assert len(enriched) == 2
    assert enriched[["tariff_type", "acorn_group", "acorn_category"]].isna().all().all()
    assert enriched["tariff_type"].tolist() == [None, None]  # None, not NaN: JSON null
    assert enriched["temperature"].tolist() == [4.5, 4.5]
    assert counts.unknown_household_readings == 2 and counts.unknown_household_meters == 1


def test_a_missing_weather_hour_keeps_the_reading_with_null_weather() -> None:
    readings = readings_frame([("MAC000003", "2012-12-01 10:30:00", 0.3), ("MAC000003", "2012-12-01 11:00:00", 0.4)])
    hourly = hourly_frame({"2012-12-01 11:00": (6.0, 0.7, 2.0, "Clear", None)})  # 10:00 missing
    enriched, counts = enrich_readings(readings, households_frame(), hourly, daily_frame({date(2012, 12, 1): 0.5}))

    first, second = enriched.to_dict("records")
    assert first["timestamp"] == "2012-12-01 10:30:00"
    assert pd.isna(first["temperature"]) and first["weather_summary"] is None
    assert first["cloud_cover"] == 0.5  # the daily file still covers it
    assert second["temperature"] == 6.0 and pd.isna(second["pressure"])  # blank pressure stays null
    assert counts.missing_hourly_weather_readings == 1
    assert counts.missing_daily_weather_readings == 0


def test_summer_daily_weather_is_matched_on_the_london_day_not_the_utc_day() -> None:
    # In summer the daily file's local midnight is 23:00 UTC the previous day; the staged
    # frame already carries the London day. A reading at 23:30 GMT on 30 June is 00:30 BST
    # on 1 July, so it takes 1 July's cloud cover; one at 22:30 GMT stays on 30 June.
    readings = readings_frame([("MAC000002", "2013-06-30 22:30:00", 0.2), ("MAC000002", "2013-06-30 23:30:00", 0.3)])
    hourly = hourly_frame(
        {
            "2013-06-30 22:00": (15.0, 0.6, 2.0, "Clear", 1015.0),
            "2013-06-30 23:00": (14.0, 0.65, 2.1, "Clear", 1015.5),
        }
    )
    daily = daily_frame({date(2013, 6, 30): 0.2, date(2013, 7, 1): 0.9})
    enriched, _ = enrich_readings(readings, households_frame(), hourly, daily)

    assert enriched["cloud_cover"].tolist() == [0.2, 0.9]
    assert enriched["temperature"].tolist() == [15.0, 14.0]


def test_a_winter_late_evening_reading_stays_on_its_gmt_day() -> None:
    readings = readings_frame([("MAC000002", "2012-12-01 23:30:00", 0.2)])
    hourly = hourly_frame({"2012-12-01 23:00": (2.0, 0.9, 1.0, "Foggy", 1030.0)})
    daily = daily_frame({date(2012, 12, 1): 0.3, date(2012, 12, 2): 0.8})
    enriched, _ = enrich_readings(readings, households_frame(), hourly, daily)
    assert enriched["cloud_cover"].tolist() == [0.3]


def test_an_off_grid_stamp_is_kept_as_read_and_takes_its_hour() -> None:
    readings = readings_frame([("MAC000003", "2012-12-01 12:37:27", 0.5), ("MAC000002", "2012-12-01 12:30:00", 0.1)])
    hourly = hourly_frame({"2012-12-01 12:00": (7.5, 0.6, 4.0, "Windy", 999.0)})
    enriched, counts = enrich_readings(readings, households_frame(), hourly, daily_frame({date(2012, 12, 1): 0.4}))

    # ordered by time, then meter: the publish order
    assert enriched["timestamp"].tolist() == ["2012-12-01 12:30:00", "2012-12-01 12:37:27"]
    assert enriched["meter_id"].tolist() == ["MAC000002", "MAC000003"]
    assert enriched["temperature"].tolist() == [7.5, 7.5]
    assert counts.off_grid_readings == 1


def test_no_weather_at_all_and_empty_days_are_not_errors() -> None:
    readings = readings_frame([("MAC000002", "2012-12-01 00:00:00", 0.0)])
    enriched, counts = enrich_readings(readings, households_frame(), hourly_frame({}), daily_frame({}))
    assert len(enriched) == 1 and enriched["energy_kwh"].tolist() == [0.0]
    assert counts.missing_hourly_weather_readings == 1 and counts.missing_daily_weather_readings == 1

    empty, empty_counts = enrich_readings(readings_frame([]), households_frame(), hourly_frame({}), daily_frame({}))
    assert empty.empty and list(empty.columns) == list(ENRICHED_COLUMNS)
    assert empty_counts.readings == 0


def test_a_duplicated_household_is_refused_rather_than_multiplying_readings() -> None:
    households = pd.concat([households_frame(), households_frame().head(1)], ignore_index=True)
    readings = readings_frame([("MAC000002", "2012-12-01 00:00:00", 0.1)])
    with pytest.raises(EnrichmentError, match="households has 2 rows sharing a meter_id"):
        enrich_readings(readings, households, hourly_frame({}), daily_frame({}))


def test_a_negative_energy_is_refused_with_a_clear_error() -> None:
    readings = readings_frame([("MAC000002", "2012-12-01 00:00:00", -0.1)])
    with pytest.raises(EnrichmentError, match="1 staged readings have a null, negative"):
        enrich_readings(readings, households_frame(), hourly_frame({}), daily_frame({}))


def test_a_missing_input_column_is_named() -> None:
    readings = readings_frame([("MAC000002", "2012-12-01 00:00:00", 0.1)]).drop(columns="energy_kwh")
    with pytest.raises(EnrichmentError, match=r"readings lacks columns \['energy_kwh'\]"):
        enrich_readings(readings, households_frame(), hourly_frame({}), daily_frame({}))


def test_timestamps_are_kept_to_the_second() -> None:
    readings = readings_frame([("MAC000002", "2013-01-31 23:59:59", 0.1)])
    enriched, _ = enrich_readings(readings, households_frame(), hourly_frame({}), daily_frame({}))
    assert enriched["timestamp"].tolist() == ["2013-01-31 23:59:59"]
