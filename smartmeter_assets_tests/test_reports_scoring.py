"""Scoring detectors against injected anomalies, and the profile detector on a meter we drew by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from smartmeter_assets.contracts import GROUND_TRUTH_FILE, InjectedAnomaly
from smartmeter_assets.reports import profile_detector
from smartmeter_assets.reports.ground_truth import GroundTruthError, read_ground_truth
from smartmeter_assets.reports.scoring import OVERALL, rule_detections, score_detections, within_days

SPIKE, NIGHT, SURGE, FLAT = (k.value for k in InjectedAnomaly)


def frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "meter_id": [r[0] for r in rows],
            "timestamp": pd.to_datetime([r[1] for r in rows]),
            "kind": [r[2] for r in rows],
        }
    )


def by_kind(scores: list) -> dict:
    return {s.kind: s for s in scores}


def test_precision_recall_f1_per_kind_and_overall() -> None:
    truth = frame(
        [
            ("M1", "2013-01-05 03:00:00", NIGHT),
            ("M1", "2013-01-05 03:30:00", NIGHT),
            ("M2", "2013-01-06 12:00:00", SPIKE),
            ("M3", "2013-01-07 00:00:00", FLAT),
        ]
    )
    detected = frame(
        [
            ("M1", "2013-01-05 03:00:00", NIGHT),  # hit
            ("M2", "2013-01-06 12:00:00", NIGHT),  # an injected reading, labelled with the wrong kind
            ("M2", "2013-01-06 12:00:00", SPIKE),  # hit (same reading flagged by two rules)
            ("M4", "2013-01-08 10:00:00", SPIKE),  # false positive
        ]
    )
    scores = by_kind(score_detections(truth, detected))
    # night: detections {M1 03:00, M2 12:00}, truth {M1 03:00, M1 03:30}: 1 hit
    assert (scores[NIGHT].hits, scores[NIGHT].precision, scores[NIGHT].recall) == (1, 0.5, 0.5)
    assert scores[NIGHT].f1 == pytest.approx(0.5)
    # spike: detections {M2 12:00, M4 10:00}, truth {M2 12:00}: precision 1/2, recall 1
    assert (scores[SPIKE].precision, scores[SPIKE].recall) == (0.5, 1.0)
    assert scores[SPIKE].f1 == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    # flat line: no detection labelled so -> precision undefined, recall 0
    assert (scores[FLAT].detected, scores[FLAT].precision, scores[FLAT].recall, scores[FLAT].f1) == (0, None, 0.0, None)
    # surge: nothing injected, nothing detected
    assert (scores[SURGE].precision, scores[SURGE].recall) == (None, None)
    # overall ignores labels: distinct detected readings {M1 03:00, M2 12:00, M4 10:00}, 2 of 4 truths
    assert (scores[OVERALL].detected, scores[OVERALL].hits) == (3, 2)
    assert (scores[OVERALL].precision, scores[OVERALL].recall) == (pytest.approx(2 / 3), 0.5)


def test_rule_flags_are_labelled_with_the_kind_each_rule_targets() -> None:
    flagged = pd.DataFrame(
        {
            "meter_id": ["M1", "M1", "M2"],
            "timestamp": pd.to_datetime(["2013-01-05 03:00:00"] * 2 + ["2013-01-06 10:00:00"]),
            "reason": ["extreme_consumption", "night_consumption", "weekend_daytime_consumption"],
        }
    )
    assert rule_detections(flagged)["kind"].tolist() == [SPIKE, NIGHT, SURGE]
    with pytest.raises(ValueError, match="map to no injected kind"):
        rule_detections(flagged.assign(reason="made_up"))


def test_truth_is_limited_to_days_the_lake_holds() -> None:
    truth = frame([("M1", "2013-01-05 03:00:00", NIGHT), ("M1", "2013-02-05 03:00:00", NIGHT)])
    assert within_days(truth, {date(2013, 1, 5)})["timestamp"].tolist() == [pd.Timestamp("2013-01-05 03:00:00")]


def test_ground_truth_file_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / GROUND_TRUTH_FILE
    path.write_text("meter_id,timestamp,kind\nM1,2013-01-05 03:00:00,night_usage\n")
    truth = read_ground_truth(tmp_path)
    assert truth.to_dict("records") == [
        {"meter_id": "M1", "timestamp": pd.Timestamp("2013-01-05 03:00:00"), "kind": NIGHT}
    ]
    path.write_text("meter_id,timestamp,kind\nM1,2013-01-05 03:00:00,aliens\n")
    with pytest.raises(GroundTruthError, match="unknown kind"):
        read_ground_truth(tmp_path)
    path.write_text("meter_id,timestamp,kind\nM1,05/01/2013 03:00,night_usage\n")
    with pytest.raises(GroundTruthError, match=":2: timestamp"):
        read_ground_truth(tmp_path)
    with pytest.raises(GroundTruthError, match="does not exist"):
        read_ground_truth(tmp_path / "real-data")


# --- the profile detector ---------------------------------------------------------------------
FIRST_DAY = date(2013, 1, 7)  # a Monday
DAYS = 28


def usual_load(when: datetime, meter_index: int) -> float:
    """A steady household: low nights, an evening bump, some wobble that is not an anomaly."""
    wobble = 0.02 * ((when.day * 7 + when.hour * 3 + meter_index) % 5)
    evening = 0.5 if 17 <= when.hour < 21 else 0.0
    night = when.hour < 6
    return round((0.12 if night else 0.3) + evening + wobble, 3)


def readings_with(injected: dict[tuple[str, datetime], float]) -> pd.DataFrame:
    rows = []
    for meter_index, meter in enumerate(("M1", "M2")):
        for step in range(DAYS * 48):
            when = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day) + timedelta(minutes=30 * step)
            rows.append((meter, when, injected.get((meter, when), usual_load(when, meter_index))))
    return pd.DataFrame(rows, columns=["meter_id", "timestamp", "energy_kwh"])


def test_profile_detector_finds_spike_night_usage_surge_and_flat_line_but_not_zeros() -> None:
    day = date(2013, 1, 19)  # a Saturday
    at = datetime(2013, 1, 19)
    injected = {
        ("M1", at + timedelta(hours=12)): 3.0,  # lone high half-hour: a fault spike
        ("M1", at + timedelta(hours=3)): 0.8,  # two high night half-hours: night usage
        ("M1", at + timedelta(hours=3, minutes=30)): 0.9,
        ("M2", at + timedelta(hours=10)): 1.7,  # sustained weekend daytime: a surge
        ("M2", at + timedelta(hours=10, minutes=30)): 1.8,
    }
    flat = {("M2", at + timedelta(hours=12, minutes=30 * k)): 0.05 for k in range(24)}  # 12 h of 0.05
    zeros = {("M1", at + timedelta(hours=13, minutes=30 * k)): 0.0 for k in range(24)}  # 12 h of nothing
    readings = readings_with({**injected, **flat, **zeros})
    found = profile_detector.detect_day(readings, day)
    labelled = {
        (m, t.to_pydatetime()): k for m, t, k in zip(found["meter_id"], found["timestamp"], found["kind"], strict=True)
    }
    expected = {
        ("M1", at + timedelta(hours=12)): SPIKE,
        ("M1", at + timedelta(hours=3)): NIGHT,
        ("M1", at + timedelta(hours=3, minutes=30)): NIGHT,
        ("M2", at + timedelta(hours=10)): SURGE,
        ("M2", at + timedelta(hours=10, minutes=30)): SURGE,
        **{key: FLAT for key in flat},
    }
    assert len(found[found["kind"] == FLAT]) == 24
    assert labelled == expected


def test_profile_detector_is_quiet_on_an_ordinary_day_and_judges_only_its_day() -> None:
    readings = readings_with({("M1", datetime(2013, 1, 25, 12)): 3.0})  # a spike on another day
    assert profile_detector.detect_day(readings, date(2013, 1, 19)).empty
    several = profile_detector.detect_days(readings, [date(2013, 1, 19), date(2013, 1, 25)])
    assert several["timestamp"].tolist() == [pd.Timestamp("2013-01-25 12:00:00")]
