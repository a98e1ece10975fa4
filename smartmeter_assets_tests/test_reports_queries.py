"""The four reports on tiny lakes whose answers are worked out by hand in each test."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from smartmeter_assets.contracts import RAW
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.reports.anomaly_summary import anomaly_summary
from smartmeter_assets.reports.lake_query import NoLakeDataError, lake_connection, require_rows
from smartmeter_assets.reports.peaks import peak_demand
from smartmeter_assets.reports.segments import demand_by_segment
from smartmeter_assets.reports.weather import weather_sensitivity
from smartmeter_assets.testbed.landed_lake import reading, write_readings

AFFLUENT = {"acorn_category": "Affluent", "acorn_group": "ACORN-A", "tariff_type": "Std"}
COMFORTABLE_STD = {"acorn_category": "Comfortable", "acorn_group": "ACORN-F", "tariff_type": "Std"}
COMFORTABLE_TOU = {"acorn_category": "Comfortable", "acorn_group": "ACORN-F", "tariff_type": "ToU"}
UNKNOWN_HOUSEHOLD = {"acorn_category": None, "acorn_group": None, "tariff_type": None}


@pytest.fixture
def segment_lake(report_lake: Lake) -> Lake:
    """Monday 7 and Tuesday 8 January 2013; 08:00 is Cold (3 °C), 18:00 is Mild (6 °C)."""
    write_readings(
        report_lake,
        [
            reading("A1", "2013-01-07 08:00:00", 0.4, temperature=3.0, **AFFLUENT),
            reading("A1", "2013-01-07 18:00:00", 1.0, temperature=6.0, **AFFLUENT),
            reading("A1", "2013-01-08 18:00:00", 0.5, temperature=6.0, **AFFLUENT),
            reading("S1", "2013-01-07 08:00:00", 0.2, temperature=3.0, **COMFORTABLE_STD),
            reading("S1", "2013-01-07 18:00:00", 0.8, temperature=6.0, **COMFORTABLE_STD),
            reading("T1", "2013-01-07 08:00:00", 0.6, temperature=3.0, **COMFORTABLE_TOU),
            reading("T1", "2013-01-07 18:00:00", 0.2, temperature=6.0, **COMFORTABLE_TOU),
            reading("U1", "2013-01-07 08:00:00", 0.3, temperature=None, **UNKNOWN_HOUSEHOLD),
        ],
    )
    return report_lake


def test_demand_by_segment_per_day_and_overall(segment_lake: Lake) -> None:
    demand = demand_by_segment(lake_connection(segment_lake))
    overall = {
        tuple(row[:4]): (round(row[4], 9), row[5], row[8])
        for row in demand.overall[
            ["acorn_category", "acorn_group", "temperature_band", "tariff_type", "total_kwh", "readings",
             "meters", "mean_kwh_per_reading", "meter_days"]
        ].itertuples(index=False)
    }  # fmt: skip
    assert overall == {
        ("Affluent", "ACORN-A", "Cold", "Std"): (0.4, 1, 1),
        ("Affluent", "ACORN-A", "Mild", "Std"): (1.5, 2, 2),  # 1.0 on Monday + 0.5 on Tuesday
        ("Comfortable", "ACORN-F", "Cold", "Std"): (0.2, 1, 1),
        ("Comfortable", "ACORN-F", "Mild", "Std"): (0.8, 1, 1),
        ("Comfortable", "ACORN-F", "Cold", "ToU"): (0.6, 1, 1),
        ("Comfortable", "ACORN-F", "Mild", "ToU"): (0.2, 1, 1),
        ("Unknown", "Unknown", "Unknown", "Unknown"): (0.3, 1, 1),  # no household, no weather: kept
    }
    per_meter_day = {(r.acorn_category, r.tariff_type): r.kwh_per_meter_day for r in demand.by_category.itertuples()}
    # Affluent/Std: 1.9 kWh over 2 meter-days; Comfortable/Std 1.0 over 1; ToU 0.8 over 1
    assert per_meter_day[("Affluent", "Std")] == pytest.approx(0.95)
    assert per_meter_day[("Comfortable", "Std")] == pytest.approx(1.0)
    assert per_meter_day[("Comfortable", "ToU")] == pytest.approx(0.8)
    tuesday = demand.daily[demand.daily["day"] == np.datetime64("2013-01-08")]
    assert tuesday[["acorn_category", "temperature_band", "total_kwh"]].values.tolist() == [["Affluent", "Mild", 0.5]]
    summary = demand.summary()
    assert (summary["readings"], summary["days"], summary["total_kwh"]) == (8, 2, pytest.approx(4.0))


def test_peak_demand_daily_peak_evening_share_and_tou_shift(segment_lake: Lake) -> None:
    peaks = peak_demand(lake_connection(segment_lake))
    monday = peaks.daily[peaks.daily["day"] == np.datetime64("2013-01-07")].set_index(["acorn_category", "tariff_type"])
    # Comfortable/Std: 0.2 at 08:00, 0.8 at 18:00 -> peak 18:00, evening share 0.8 / 1.0
    assert monday.loc[("Comfortable", "Std"), "peak_time"] == datetime(2013, 1, 7, 18)
    assert monday.loc[("Comfortable", "Std"), "evening_share"] == pytest.approx(0.8)
    # Comfortable/ToU: 0.6 at 08:00, 0.2 at 18:00 -> peak in the morning, evening share 0.25
    assert monday.loc[("Comfortable", "ToU"), "peak_time"] == datetime(2013, 1, 7, 8)
    assert monday.loc[("Comfortable", "ToU"), "evening_share"] == pytest.approx(0.25)
    segments = peaks.segments.set_index(["acorn_category", "tariff_type"])
    # Affluent/Std over both days: evening 1.0 + 0.5 of 1.4 + 0.5; daily peaks 1.0 and 0.5 per meter
    assert segments.loc[("Affluent", "Std"), "evening_share"] == pytest.approx(1.5 / 1.9)
    assert segments.loc[("Affluent", "Std"), "mean_peak_kwh_per_meter"] == pytest.approx(0.75)
    shift = peaks.tou_shift.set_index("acorn_category")["shift_points"]
    assert shift["Comfortable"] == pytest.approx(100 * (0.25 - 0.8))
    assert np.isnan(shift["Affluent"])  # no ToU household to compare with


def test_weather_sensitivity_recovers_a_known_heating_slope(report_lake: Lake) -> None:
    # 16 days, 4..19 °C; demand 8 + 0.4 per degree below 14 °C; wind rises a metre a day
    rows = []
    for d in range(16):
        when = datetime(2013, 1, 7, 12) + timedelta(days=d)
        kwh = 8 + 0.4 * max(0.0, 14 - (4 + d))
        rows.append(reading("A1", when, kwh, temperature=4.0 + d, wind_speed=float(d), humidity=0.7, **AFFLUENT))
    # a second segment with too few days for a fit
    rows += [reading("S1", datetime(2013, 1, 7, 12) + timedelta(days=d), 5.0, **COMFORTABLE_STD) for d in range(2)]
    write_readings(report_lake, rows)
    fits = weather_sensitivity(lake_connection(report_lake)).fits.set_index("acorn_category")
    affluent = fits.loc["Affluent"]
    assert affluent["balance_point"] == 14.0
    assert affluent["heating_slope"] == pytest.approx(0.4)
    assert affluent["base_kwh"] == pytest.approx(8.0)
    assert affluent["r2"] == pytest.approx(1.0)
    kwh = [8 + 0.4 * max(0.0, 10 - d) for d in range(16)]
    assert affluent["wind_corr"] == pytest.approx(np.corrcoef(kwh, range(16))[0, 1])
    assert np.isnan(affluent["humidity_corr"])  # constant humidity: no correlation to speak of
    assert np.isnan(fits.loc["Comfortable", "heating_slope"])  # 2 days: not fitted


def test_anomaly_summary_by_meter_reason_day_and_persistent_meters(report_lake: Lake) -> None:
    rows = [reading("X", datetime(2013, 1, 7 + d, 3), 0.8) for d in range(3)]  # night, three days
    rows += [reading("Y", "2013-01-07 03:00:00", 3.0), reading("Y", "2013-01-07 12:00:00", 0.3)]
    write_readings(report_lake, rows)
    summary = anomaly_summary(lake_connection(report_lake))
    assert summary.flagged_readings == 4
    assert dict(zip(summary.by_reason["reason"], summary.by_reason["anomalies"], strict=True)) == {
        "night_consumption": 4,  # X three times, Y once
        "extreme_consumption": 1,  # Y's 3.0 kWh at 03:00 breaks both rules
    }
    meters = summary.by_meter.set_index("meter_id")
    assert meters.loc["X", "anomalous_days"] == 3 and bool(meters.loc["X", "persistent"])
    assert list(meters.loc["Y", "reasons"]) == ["extreme_consumption", "night_consumption"]
    assert meters.loc["Y", "anomaly_rate"] == pytest.approx(0.5)  # 1 of its 2 readings
    assert summary.persistent_meters == ["X"]
    per_day = summary.by_meter_reason_day
    assert len(per_day[(per_day["meter_id"] == "X") & (per_day["day"] == np.datetime64(date(2013, 1, 8)))]) == 1


def test_missing_tables_read_as_empty_and_reports_on_readings_say_so(report_lake: Lake) -> None:
    connection = lake_connection(report_lake)
    with pytest.raises(NoLakeDataError, match="raw/ has no rows yet"):
        require_rows(connection, RAW)
    write_readings(report_lake, [reading("A1", "2013-01-07 12:00:00", 0.3)])  # nothing anomalous
    summary = anomaly_summary(lake_connection(report_lake))
    assert (summary.flagged_readings, summary.persistent_meters, len(summary.by_reason)) == (0, [], 0)
