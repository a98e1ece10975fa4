"""Reconciliation on keys: the staged day a publish sent, against raw/ + rejected/, day by day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from smartmeter_assets.contracts import RAW, REJECTED
from smartmeter_assets.kafka.publish import PartitionReport, PublishReport
from smartmeter_assets.lake.published import publish_records, write_publish_records
from smartmeter_assets.lake.reading_keys import key_digest
from smartmeter_assets.lake.reconciliation import reconcile
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.sample_data.generator import SampleSpec, generate
from smartmeter_assets.sources.readings import block_files
from smartmeter_assets.sources.staging import read_staged_day, stage_block
from smartmeter_assets.stream import landing
from smartmeter_assets.stream.landing import DayKeys, compare_published_keys, short_days
from smartmeter_assets_tests.lake_builder import raw_row, rejected_row, write_rows

DAY = date(2013, 1, 7)


def staged_lake(tmp_path: Path) -> Lake:
    data = tmp_path / "data"
    generate(data, SampleSpec(households=3, days=3))
    lake = Lake(str(tmp_path / "lake"))
    for block in block_files(data):
        stage_block(lake, block)
    return lake


def day_keys(lake: Lake, day: date) -> list[tuple[str, datetime]]:
    frame = read_staged_day(lake, day)
    return [(m, t.to_pydatetime()) for m, t in zip(frame["meter_id"], frame["timestamp"], strict=True)]


def text(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def record_publish(lake: Lake, day: date, keys: list[tuple[str, datetime]], digest: str | None) -> None:
    report = PublishReport("t", len(keys), 0, 0.1, 1, [PartitionReport(0, len(keys), 0, 0, len(keys) - 1)])
    write_publish_records(lake, publish_records(report, day, "run", datetime.now(UTC), key_digest=digest))


def digest_of(keys: list[tuple[str, datetime]]) -> str:
    return key_digest(pa.table({"meter_id": [m for m, _ in keys], "timestamp": [text(t) for _, t in keys]}))


def test_the_digest_ignores_order_and_changes_with_any_key() -> None:
    keys = [("A", datetime(2013, 1, 7, 0, 30)), ("B", datetime(2013, 1, 7, 1))]
    assert digest_of(keys) == digest_of(keys[::-1])
    assert digest_of(keys) != digest_of(keys[:1])
    assert digest_of(keys) != digest_of([("A", datetime(2013, 1, 7, 0, 30)), ("B", datetime(2013, 1, 7, 1, 0, 1))])


def test_missing_and_extra_keys_are_counted_and_sampled_per_day(tmp_path: Path) -> None:
    lake = staged_lake(tmp_path)
    keys = day_keys(lake, DAY)
    assert len(keys) > 100
    record_publish(lake, DAY, keys, digest_of(keys))
    lost, rejected, landed = keys[:3], keys[3:5], keys[5:]
    stranger = raw_row("MAC999999", datetime(2013, 1, 7, 9), 1.0)
    write_rows(lake, RAW, [raw_row(m, t, 0.1) for m, t in landed] + [stranger])
    twice = rejected * 2  # a re-published reject lands at new coordinates: still one key
    write_rows(lake, REJECTED, [rejected_row(m, text(t), "negative_energy", date(2026, 1, 1)) for m, t in twice])

    comparison = compare_published_keys(lake)

    assert comparison.changed_days == []
    [day] = comparison.days
    assert (day.day, day.published, day.landed) == (DAY.isoformat(), len(keys), len(keys) - 3 + 1)
    assert (day.missing, day.extra, day.in_both) == (3, 1, 0)
    assert set(day.missing_sample) == {f"{m} {text(t)}" for m, t in lost}
    assert day.extra_sample == ("MAC999999 2013-01-07 09:00:00",)
    assert short_days(lake) == [DAY.isoformat()]  # 3 lost, 1 stranger: still 2 short by count
    result = reconcile(comparison.days, comparison.changed_days, 0, caught_up=True)
    assert not result.passed
    assert result.missing_sample[0].startswith(f"{DAY}: ") and result.figures["missing"] == 3


def test_a_day_that_lost_readings_is_short_and_a_complete_one_passes(tmp_path: Path) -> None:
    lake = staged_lake(tmp_path)
    keys = day_keys(lake, DAY)
    record_publish(lake, DAY, keys, digest_of(keys))
    write_rows(lake, RAW, [raw_row(m, t, 0.1) for m, t in keys[10:]])
    assert short_days(lake) == [DAY.isoformat()]
    write_rows(lake, RAW, [raw_row(m, t, 0.1) for m, t in keys[:10]])
    comparison = compare_published_keys(lake)
    assert short_days(lake) == []
    assert reconcile(comparison.days, comparison.changed_days, 0, caught_up=True).passed


def test_a_day_restaged_since_its_publish_is_reported_not_compared(tmp_path: Path) -> None:
    lake = staged_lake(tmp_path)
    keys = day_keys(lake, DAY)
    record_publish(lake, DAY, keys[1:], digest_of(keys[1:]))  # the publish sent one key fewer
    other = date(2013, 1, 8)
    other_keys = day_keys(lake, other)
    swapped = [("MAC000000", other_keys[0][1]), *other_keys[1:]]  # same count, another key
    record_publish(lake, other, swapped, digest_of(swapped))
    comparison = compare_published_keys(lake)
    assert comparison.changed_days == [DAY.isoformat(), other.isoformat()] and comparison.days == []
    result = reconcile(comparison.days, comparison.changed_days, 0, caught_up=True)
    assert not result.passed and "re-publish" in result.problems[0]


def test_a_record_without_digest_is_trusted_when_the_counts_agree(tmp_path: Path) -> None:
    lake = staged_lake(tmp_path)
    keys = day_keys(lake, DAY)
    record_publish(lake, DAY, keys, None)
    comparison = compare_published_keys(lake)
    assert comparison.changed_days == [] and comparison.days[0].missing == len(keys)


def test_reconcile_is_pending_until_caught_up_and_always_fails_on_extra_or_double_landing() -> None:
    short = DayKeys("2013-01-07", published=5, landed=3, missing=2, extra=0, in_both=0, missing_sample=("A x",))
    behind = reconcile([short], [], 0, caught_up=False)
    assert behind.passed and behind.pending_days == ["2013-01-07"]
    done = reconcile([short], [], 0, caught_up=True)
    assert not done.passed and "2 of 5" in done.problems[0] and done.missing_sample == ["2013-01-07: A x"]
    twice = DayKeys("2013-01-07", published=5, landed=5, missing=0, extra=0, in_both=1)
    assert not reconcile([twice], [], 0, caught_up=False).passed
    assert not reconcile([], [], raw_duplicates=1, caught_up=True).passed
    whole = DayKeys("2013-01-07", published=5, landed=5, missing=0, extra=0, in_both=0)
    assert reconcile([whole], [], 0, caught_up=True).passed


def test_days_compared_a_chunk_at_a_time_give_what_all_days_at_once_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory is bounded by a chunk of days; the comparison must not depend on where chunks end."""
    lake = staged_lake(tmp_path)
    days = [DAY, date(2013, 1, 8), date(2013, 1, 9)]
    for day in days:
        keys = day_keys(lake, day)
        record_publish(lake, day, keys, digest_of(keys))
        landed = keys[2:] if day == days[1] else keys  # the middle day lost two readings
        write_rows(lake, RAW, [raw_row(m, t, 0.1) for m, t in landed])
    changed = day_keys(lake, days[2])[1:]
    record_publish(lake, days[2], changed, digest_of(changed))  # the last one was re-staged since

    whole = compare_published_keys(lake)
    monkeypatch.setattr(landing, "COMPARE_CHUNK_DAYS", 1)
    chunked = compare_published_keys(lake)

    assert chunked == whole
    assert [d.day for d in whole.days] == [DAY.isoformat(), days[1].isoformat()]
    assert [d.missing for d in whole.days] == [0, 2] and whole.changed_days == [days[2].isoformat()]


def test_a_rejected_text_that_is_no_stamp_is_an_extra_key_by_its_text(tmp_path: Path) -> None:
    """Keys are compared typed; a reject's published text that is not exactly a stamp stays a key of its own."""
    lake = staged_lake(tmp_path)
    keys = day_keys(lake, DAY)
    record_publish(lake, DAY, keys, digest_of(keys))
    write_rows(lake, RAW, [raw_row(m, t, 0.1) for m, t in keys[1:]])
    texts = ["2013-01-07 9:00", "2013-01-07 9:00", "2013-01-07 09:00:00.5", "garbage", text(keys[0][1])]
    write_rows(
        lake,
        REJECTED,
        [rejected_row("MAC000777", stamp, "unparseable_timestamp", date(2026, 1, 1)) for stamp in texts[:4]]
        + [rejected_row(keys[0][0], texts[4], "negative_energy", date(2026, 1, 1))],
    )

    [day] = compare_published_keys(lake).days

    assert (day.published, day.missing, day.in_both) == (len(keys), 0, 0)  # the first key landed as a reject
    assert day.extra == 2 and day.landed == len(keys) + 2  # "garbage" names no compared day
    assert day.extra_sample == ("MAC000777 2013-01-07 09:00:00.5", "MAC000777 2013-01-07 9:00")
