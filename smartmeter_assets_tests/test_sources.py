"""The readers, given rows written exactly as the real Kaggle files write them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from smartmeter_assets.contracts import (
    STAGED_HOUSEHOLD_COLUMNS,
    STAGED_READING_COLUMNS,
    STAGED_WEATHER_DAILY_COLUMNS,
    STAGED_WEATHER_HOURLY_COLUMNS,
    UNKNOWN_ACORN_CATEGORY,
    WEATHER_DAILY_COLUMNS,
    WEATHER_HOURLY_COLUMNS,
)
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.sources.households import read_households
from smartmeter_assets.sources.readings import block_files, block_name, read_block
from smartmeter_assets.sources.source_read import SourceFileError
from smartmeter_assets.sources.staging import (
    publishable_days,
    read_manifest,
    read_staged_day,
    stage_block,
    staged_days,
)
from smartmeter_assets.sources.weather import read_weather_daily, read_weather_hourly

BLOCK = """LCLid,tstp,energy(kWh/hh)
MAC000002,2012-10-12 00:30:00.0000000, 0 
MAC000002,2012-10-12 01:00:00.0000000, 0.219 
MAC000002,2012-10-12 01:00:00, 0.219 
MAC000002,2012-10-12 01:30:00.0000000,Null
MAC000002,2012-10-12 02:00:00, 0.3 
MAC000002,2012-10-12 02:00:00, 0.4 
MAC000002,2012-10-12 12:37:27.0000000, 0.1 
MAC000002,garbage, 0.1 
MAC000002,2012-10-12 03:00:00,abc
MAC000002,2012-10-12 03:30:00,-0.5
MAC000002,2012-10-12 04:00:00
,2012-10-12 04:30:00,0.1
MAC000003,2012-10-13 00:00:00, 1.5 
"""  # noqa: W291 - the trailing spaces are the real format


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_block_with_every_real_quirk_is_read_and_every_row_accounted(tmp_path: Path) -> None:
    read = read_block(write(tmp_path / "halfhourly_dataset" / "block_0.csv", BLOCK))
    assert tuple(read.frame.columns) == STAGED_READING_COLUMNS
    kept = read.frame.assign(timestamp=read.frame["timestamp"].astype(str))
    assert kept[["meter_id", "timestamp", "energy_kwh"]].values.tolist() == [
        ["MAC000002", "2012-10-12 00:30:00", 0.0],
        ["MAC000002", "2012-10-12 01:00:00", 0.219],  # suffix and no suffix: one reading
        ["MAC000002", "2012-10-12 02:00:00", 0.3],  # the first of two conflicting values
        ["MAC000002", "2012-10-12 12:37:27", 0.1],  # off-grid stamp kept as read
        ["MAC000003", "2012-10-13 00:00:00", 1.5],
    ]
    assert read.frame["reading_date"].tolist()[-1] == date(2012, 10, 13)
    assert read.duplicates_dropped == 1
    assert read.rejects_by_reason() == {
        "energy_null": 1,
        "conflicting_duplicate": 1,
        "unparseable_timestamp": 1,
        "energy_not_numeric": 1,
        "energy_negative": 1,
        "missing_field": 2,  # the short row and the blank meter id
    }
    assert read.rows_read == 13 and read.accounted()
    null_row = read.rejects[read.rejects["reason"] == "energy_null"].iloc[0]
    assert null_row["raw_line"] == "MAC000002,2012-10-12 01:30:00.0000000,Null"
    assert null_row["line_number"] == 5


def test_minus_zero_and_zero_are_one_reading_repeated_not_two_values(tmp_path: Path) -> None:
    text = "LCLid,tstp,energy(kWh/hh)\nMAC000002,2012-10-12 00:30:00,-0\nMAC000002,2012-10-12 00:30:00, 0 \n"
    read = read_block(write(tmp_path / "halfhourly_dataset" / "block_0.csv", text))
    assert len(read.frame) == 1 and read.duplicates_dropped == 1 and read.rejects.empty


def test_a_day_or_second_past_its_end_is_rejected_not_moved_to_the_next(tmp_path: Path) -> None:
    text = (
        "LCLid,tstp,energy(kWh/hh)\n"
        "MAC000002,2013-02-29 00:00:00.0000000,0.1\n"  # no 29 February in 2013 (not 1 March)
        "MAC000002,2013-04-31 00:00:00,0.1\n"
        "MAC000002,2013-01-02 00:00:60,0.1\n"  # not 00:01:00
        "MAC000002,2012-02-29 23:30:00,0.1\n"  # a leap day
    )
    read = read_block(write(tmp_path / "halfhourly_dataset" / "block_0.csv", text))
    assert read.frame["timestamp"].astype(str).tolist() == ["2012-02-29 23:30:00"]
    assert read.rejects["reason"].tolist() == ["unparseable_timestamp"] * 3
    assert read.rejects["line_number"].tolist() == [2, 3, 4]


def test_both_block_layouts_are_found_in_block_order(tmp_path: Path) -> None:
    header = "LCLid,tstp,energy(kWh/hh)\n"
    write(tmp_path / "halfhourly_dataset" / "block_10.csv", header)
    write(tmp_path / "halfhourly_dataset" / "block_2.csv", header)
    write(tmp_path / "halfhourly_dataset_block_1.csv", header)
    names = [block_name(p) for p in block_files(tmp_path)]
    assert names == ["block_1", "block_2", "block_10"]


def test_a_block_with_a_wrong_header_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path / "halfhourly_dataset" / "block_0.csv", "id,when,kwh\nA,2012-01-01 00:00:00,1\n")
    with pytest.raises(SourceFileError, match=r"block_0\.csv"):
        read_block(path)


def test_households_normalise_unclassified_acorn_and_reject_bad_rows(tmp_path: Path) -> None:
    write(
        tmp_path / "informations_households.csv",
        "LCLid,stdorToU,Acorn,Acorn_grouped,file\n"
        "MAC005492,ToU,ACORN-,ACORN-,block_0\n"
        "MAC001074,ToU,ACORN-U,ACORN-U,block_0\n"
        "MAC000002,Std,ACORN-A,Affluent,block_0\n"
        "MAC000002,Std,ACORN-A,Affluent,block_0\n"
        ",Std,ACORN-B,Affluent,block_1\n",
    )
    read = read_households(tmp_path)
    assert tuple(read.frame.columns) == STAGED_HOUSEHOLD_COLUMNS
    by_meter = read.frame.set_index("meter_id")
    assert by_meter.loc["MAC005492", "acorn_category"] == UNKNOWN_ACORN_CATEGORY
    assert by_meter.loc["MAC005492", "acorn_group"] == "ACORN-"
    assert by_meter.loc["MAC001074", "acorn_category"] == UNKNOWN_ACORN_CATEGORY
    assert by_meter.loc["MAC000002", "acorn_category"] == "Affluent"
    assert read.rejects_by_reason() == {"duplicate_key": 1, "missing_field": 1}
    assert read.accounted()


def test_a_missing_file_and_a_foreign_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="not found"):
        read_households(tmp_path)
    write(tmp_path / "weather_hourly_darksky.csv", "a,b\n1,2\n")
    with pytest.raises(SourceFileError, match="missing column"):
        read_weather_hourly(tmp_path)


def hourly_row(time: str, temperature: str = "5.5", pressure: str = "1012.3") -> str:
    values = dict.fromkeys(WEATHER_HOURLY_COLUMNS, "1")
    values.update(time=time, temperature=temperature, pressure=pressure, summary="Clear", humidity="0.8")
    return ",".join(values[c] for c in WEATHER_HOURLY_COLUMNS)


def test_hourly_weather_is_sorted_deduplicated_and_blank_pressure_is_null(tmp_path: Path) -> None:
    rows = [
        hourly_row("2011-11-11 02:00:00"),
        hourly_row("2011-11-11 00:00:00", pressure=""),
        hourly_row("2011-11-11 02:00:00", temperature="9"),
        hourly_row("not a time"),
    ]
    write(tmp_path / "weather_hourly_darksky.csv", ",".join(WEATHER_HOURLY_COLUMNS) + "\n" + "\n".join(rows) + "\n")
    read = read_weather_hourly(tmp_path)
    assert tuple(read.frame.columns) == STAGED_WEATHER_HOURLY_COLUMNS
    assert read.frame["time"].astype(str).tolist() == ["2011-11-11 00:00:00", "2011-11-11 02:00:00"]
    assert pd.isna(read.frame["pressure"].iloc[0])
    assert read.frame["temperature"].iloc[1] == 5.5  # the first of the two 02:00 rows
    assert read.rejects_by_reason() == {"duplicate_key": 1, "unparseable_timestamp": 1}
    assert read.accounted()


def test_daily_weather_day_is_the_london_day_of_its_utc_midnight(tmp_path: Path) -> None:
    def row(time: str, cloud: str) -> str:
        values = dict.fromkeys(WEATHER_DAILY_COLUMNS, "1")
        values.update(time=time, cloudCover=cloud)
        return ",".join(values[c] for c in WEATHER_DAILY_COLUMNS)

    rows = [row("2013-07-01 23:00:00", "0.2"), row("2013-01-15 00:00:00", "0.9"), row("2013-03-30 00:00:00", "")]
    write(tmp_path / "weather_daily_darksky.csv", ",".join(WEATHER_DAILY_COLUMNS) + "\n" + "\n".join(rows) + "\n")
    read = read_weather_daily(tmp_path)
    assert tuple(read.frame.columns) == STAGED_WEATHER_DAILY_COLUMNS
    days = dict(zip(read.frame["day"], read.frame["cloud_cover"], strict=True))
    assert days[date(2013, 7, 2)] == 0.2  # summer: 23:00 UTC is the next London midnight
    assert days[date(2013, 1, 15)] == 0.9
    assert pd.isna(days[date(2013, 3, 30)])


def test_staging_by_day_reads_one_day_and_skips_unchanged_blocks(tmp_path: Path) -> None:
    block = write(tmp_path / "data" / "halfhourly_dataset" / "block_0.csv", BLOCK)
    lake = Lake(str(tmp_path / "lake"))
    manifest, staged = stage_block(lake, block)
    assert staged and manifest.rows_staged == 5 and manifest.rows_read == 13
    assert staged_days(lake) == [date(2012, 10, 12), date(2012, 10, 13)]
    day = read_staged_day(lake, date(2012, 10, 13))
    assert day[["meter_id", "energy_kwh"]].values.tolist() == [["MAC000003", 1.5]]
    assert str(day["timestamp"].dtype) == "datetime64[ns]"
    assert read_staged_day(lake, date(2012, 10, 14)).empty

    again, staged_again = stage_block(lake, block)
    assert not staged_again and again == manifest

    write(block, BLOCK.replace("MAC000003,2012-10-13", "MAC000003,2012-10-14"))
    _, restaged = stage_block(lake, block)
    assert restaged
    assert read_staged_day(lake, date(2012, 10, 13)).empty  # the block's old files are replaced
    assert len(read_staged_day(lake, date(2012, 10, 14))) == 1
    assert read_manifest(lake, "block_0").rows_staged == 5  # type: ignore[union-attr]


def test_only_days_inside_the_dataset_span_are_publishable(tmp_path: Path) -> None:
    outside = "LCLid,tstp,energy(kWh/hh)\nMAC1,2011-11-22 23:30:00, 0.1 \nMAC1,2011-11-23 00:00:00, 0.2 \n"
    block = write(tmp_path / "data" / "halfhourly_dataset" / "block_0.csv", outside)
    lake = Lake(str(tmp_path / "lake"))
    stage_block(lake, block)
    assert staged_days(lake) == [date(2011, 11, 22), date(2011, 11, 23)]
    assert publishable_days(lake) == [date(2011, 11, 23)]
