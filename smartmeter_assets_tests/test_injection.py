"""``smartmeter inject``: a copy of a Kaggle folder with events of every kind and their ground truth."""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest

from smartmeter_assets.cli import main
from smartmeter_assets.contracts import GROUND_TRUTH_FILE, HOUSEHOLDS_FILE, InjectedAnomaly
from smartmeter_assets.reports.ground_truth import read_ground_truth
from smartmeter_assets.reports.london_time import london_day, london_slot, london_time
from smartmeter_assets.reports.scoring import truth_events
from smartmeter_assets.sample_data.generator import SampleSpec, generate
from smartmeter_assets.sample_data.injection import (
    EVENTS_FILE,
    InjectionError,
    InjectionSpec,
    _meter_series,
    _read_blocks,
    inject,
    plan_and_apply,
)
from smartmeter_assets.sources.readings import block_files, read_block

SPIKE, NIGHT, SURGE = (k.value for k in list(InjectedAnomaly)[:3])

#: Summer time included, so the London windows are tested an hour off GMT.
SOURCE = SampleSpec(households=12, days=70, start=date(2013, 3, 4), seed=5)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("source")
    generate(out, SOURCE)
    (out / GROUND_TRUTH_FILE).unlink()  # stands in for real meters: no truth of its own
    return out


def readings(folder: Path) -> pd.DataFrame:
    frame = pd.concat(read_block(path).frame for path in block_files(folder))
    return frame.set_index(["meter_id", "timestamp"])["energy_kwh"]


def test_every_kind_is_injected_where_it_belongs_and_nothing_else_changes(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "injected"
    counts = inject(source, out, InjectionSpec(seed=3, events_per_kind=3))
    truth = read_ground_truth(out)
    events = truth_events(truth)
    assert {
        kind: events.loc[events["kind"] == kind.value, "event"].nunique() for kind in InjectedAnomaly
    } == dict.fromkeys(InjectedAnomaly, 3)
    assert counts["ground_truth_rows"] == len(truth)
    assert (out / HOUSEHOLDS_FILE).read_bytes() == (source / HOUSEHOLDS_FILE).read_bytes()

    before, after = readings(source), readings(out)
    assert before.index.equals(after.index)  # same readings, rejects and duplicates as the source
    changed = before[(before - after).abs() > 1e-9].index
    keys = pd.MultiIndex.from_frame(truth[["meter_id", "timestamp"]])
    assert set(changed) <= set(keys)  # nothing changed outside an event
    assert len(changed) >= 0.5 * len(keys)

    local = london_time(truth["timestamp"])
    night = truth["kind"] == InjectedAnomaly.NIGHT_USAGE.value
    assert local[night].dt.hour.between(2, 4).all()  # 02:00-05:00 London, whatever the season
    surge = truth["kind"] == InjectedAnomaly.WEEKEND_DAYTIME_SURGE.value
    assert (local[surge].dt.dayofweek >= 5).all() and local[surge].dt.hour.between(9, 16).all()
    zeroed = keys[truth["kind"] == InjectedAnomaly.ZEROED_WINDOW.value]
    assert (after.loc[zeroed] == 0).all()
    for event in events.loc[events["kind"] == InjectedAnomaly.FLAT_LINE.value, "event"].unique():
        meter = events.loc[events["event"] == event, "meter_id"].iloc[0]
        stamps = truth[(truth["meter_id"] == meter) & (truth["kind"] == InjectedAnomaly.FLAT_LINE.value)]
        assert after.loc[pd.MultiIndex.from_frame(stamps[["meter_id", "timestamp"]])].nunique() == 1
    scaled = truth[truth["kind"] == InjectedAnomaly.SCALED_DOWN.value]
    ratio = (after / before).loc[pd.MultiIndex.from_frame(scaled[["meter_id", "timestamp"]])].dropna()
    assert ratio.between(0.05, 0.55).all()
    # one event per meter-day, and never on the day next to another event
    days = events.drop_duplicates(["meter_id", "day", "event"])
    assert not days.duplicated(["meter_id", "day"]).any()


def test_a_seed_gives_the_same_events_and_another_seed_others(source: Path, tmp_path: Path) -> None:
    inject(source, tmp_path / "a", InjectionSpec(seed=1, events_per_kind=2))
    inject(source, tmp_path / "b", InjectionSpec(seed=1, events_per_kind=2))
    inject(source, tmp_path / "c", InjectionSpec(seed=2, events_per_kind=2))
    truth = {name: (tmp_path / name / GROUND_TRUTH_FILE).read_text() for name in "abc"}
    assert truth["a"] == truth["b"] != truth["c"]


def test_events_stay_in_the_span_asked_for(source: Path, tmp_path: Path) -> None:
    inject(source, tmp_path / "out", InjectionSpec(seed=4, events_per_kind=1, first_day=date(2013, 3, 20), days=14))
    truth = read_ground_truth(tmp_path / "out")
    first_days = truth_events(truth).groupby("event")["day"].min()
    assert first_days.between(date(2013, 3, 20), date(2013, 4, 2)).all()
    assert london_day(truth["timestamp"]).max() <= date(2013, 4, 8)  # a 5-day scaled event may run on


def test_the_command_refuses_a_folder_it_cannot_use(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["inject", "--data-dir", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")]) == 2
    assert "missing informations_households.csv" in capsys.readouterr().err
    with pytest.raises(InjectionError, match="must not be the source"):
        inject(source, source)
    assert main(["inject", "--data-dir", str(source), "--out", str(tmp_path / "ok"), "--seed", "9", "--lasting"]) == 0
    assert "zeroed_window_events" in capsys.readouterr().out


def test_high_events_rise_above_their_floor_for_their_length(source: Path, tmp_path: Path) -> None:
    """Spikes, night use and weekend surges may be weak (another tool's may be), but stay events.

    Every reading of such an event rises by at least its kind's floor (a fault spike 0.8 kWh, night
    use 0.2, a weekend surge 0.3) and the events have their kind's length in half-hours.
    """
    out = tmp_path / "injected"
    inject(source, out, InjectionSpec(seed=6, events_per_kind=6))
    truth = read_ground_truth(out)
    before, after = readings(source), readings(out)
    keys = pd.MultiIndex.from_frame(truth[["meter_id", "timestamp"]])
    rise = pd.Series((after.loc[keys] - before.loc[keys]).to_numpy(), index=truth.index)
    floors = {SPIKE: 0.8, NIGHT: 0.2, SURGE: 0.3}
    lengths = {SPIKE: (1, 2), NIGHT: (2, 6), SURGE: (2, 9)}
    events = truth.assign(rise=rise, run=(truth["timestamp"].diff() != pd.Timedelta(minutes=30)).cumsum())
    for kind, floor in floors.items():
        own = events[events["kind"] == kind]
        assert len(own) and (own["rise"] >= floor - 0.001).all()
        low, high = lengths[kind]
        assert own.groupby(["meter_id", "run"]).size().between(low, high).all()


def test_lasting_events_repeat_the_same_half_hours_on_nights_or_weekends_running(source: Path) -> None:
    """``--lasting``: night use on 3-7 nights running, surges on both days of 1-3 weekends running,
    the same London half-hours each day; the other kinds as without it."""
    meters = _meter_series(_read_blocks(source))
    truth = plan_and_apply(meters, InjectionSpec(seed=8, events_per_kind=3, lasting=True))
    truth = truth.assign(day=london_day(truth["timestamp"]), slot=london_slot(london_time(truth["timestamp"])))
    for kind, hours in ((NIGHT, (2, 5)), (SURGE, (9, 17))):
        events = truth[truth["kind"] == kind].groupby("event")
        assert events.ngroups == 3
        for _, event in events:
            days = sorted(event["day"].unique())
            slots = {day: tuple(sorted(rows["slot"])) for day, rows in event.groupby("day")}
            assert len(set(slots.values())) == 1  # the same half-hours every day
            first, *_ = slots.values()
            assert hours[0] * 2 <= first[0] and first[-1] < hours[1] * 2 and len(first) == first[-1] - first[0] + 1
            gaps = [(b - a).days for a, b in pairwise(days)]
            if kind == NIGHT:
                assert 3 <= len(days) <= 7 and set(gaps) == {1}
            else:
                assert days[0].weekday() == 5 and len(days) in (2, 4, 6) and set(gaps) <= {1, 6}
    assert truth[truth["kind"] == SPIKE]["day"].groupby(truth["event"]).nunique().eq(1).all()


def test_each_event_is_described_beside_the_truth_as_it_was_made(source: Path, tmp_path: Path) -> None:
    """The events file says how each event was made and how large it is, matching the readings.

    The benchmark splits recall by these details; a description that disagreed with the readings
    would put the misses in the wrong place.
    """
    out = tmp_path / "injected"
    inject(source, out, InjectionSpec(seed=7, events_per_kind=4))
    truth = read_ground_truth(out)
    details = pd.read_csv(out / EVENTS_FILE)
    assert len(details) == truth_events(truth)["event"].nunique()
    modes = {SPIKE: {"set", "raise"}, NIGHT: {"set", "raise"}, SURGE: {"set", "raise"},
             InjectedAnomaly.FLAT_LINE.value: {"median", "last", "constant"},
             InjectedAnomaly.SCALED_DOWN.value: {"factor"}, InjectedAnomaly.ZEROED_WINDOW.value: {"zero"}}  # fmt: skip
    for kind, allowed in modes.items():
        assert set(details.loc[details["kind"] == kind, "mode"]) <= allowed
    before, after = readings(source), readings(out)
    for row in details.itertuples():
        own = truth[(truth["meter_id"] == row.meter_id) & (truth["kind"] == row.kind)]
        stamps = own["timestamp"][own["timestamp"] >= pd.Timestamp(row.first_stamp)].iloc[: row.half_hours]
        keys = pd.MultiIndex.from_arrays([[row.meter_id] * len(stamps), stamps])
        assert (after.loc[keys] - before.loc[keys]).mean() == pytest.approx(row.excess, abs=1e-3)
        if row.kind == InjectedAnomaly.SCALED_DOWN.value:
            assert 0.1 - 1e-3 <= row.factor <= 0.5 + 1e-3
        if row.mode == "set" and row.kind == NIGHT:
            assert row.level >= 0.5 - 1e-3
