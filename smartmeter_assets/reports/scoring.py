"""Precision, recall and F1 of a detector against the injected anomalies, per kind and overall.

A detection and a truth row are the same reading when ``(meter_id, timestamp)`` match. Per kind,
a detection counts for the kind it was labelled with (a rule flag is labelled with the injected
kind that rule is meant to catch, :data:`contracts.RULE_FOR_INJECTED`): a night-time spike flagged
by the night rule is a false positive *of the night rule*. Overall, labels are ignored: any
detection on any injected reading is a hit. Undefined ratios (no detections, no truth) are None,
never a flattering 1.0 or 0.0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from smartmeter_assets.contracts import RULE_FOR_INJECTED, InjectedAnomaly

OVERALL = "overall"
KEY = ["meter_id", "timestamp"]


@dataclass(frozen=True)
class Score:
    kind: str
    truth: int  # injected readings of this kind
    detected: int  # readings the detector labelled with this kind
    hits: int
    precision: float | None
    recall: float | None
    f1: float | None

    def as_dict(self) -> dict[str, float | int | str | None]:
        return asdict(self)


def _score(kind: str, truth: pd.DataFrame, detected: pd.DataFrame) -> Score:
    truth_keys = truth[KEY].drop_duplicates()
    detected_keys = detected[KEY].drop_duplicates()
    hits = len(truth_keys.merge(detected_keys, on=KEY, how="inner"))
    precision = hits / len(detected_keys) if len(detected_keys) else None
    recall = hits / len(truth_keys) if len(truth_keys) else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall > 0
        else (0.0 if precision is not None and recall is not None else None)
    )
    return Score(kind, len(truth_keys), len(detected_keys), hits, precision, recall, f1)


def score_detections(truth: pd.DataFrame, detections: pd.DataFrame) -> list[Score]:
    """One score per injected kind, then the overall one. Both frames: meter_id, timestamp, kind."""
    scores = [
        _score(kind.value, truth[truth["kind"] == kind.value], detections[detections["kind"] == kind.value])
        for kind in InjectedAnomaly
    ]
    scores.append(_score(OVERALL, truth, detections))
    return scores


def rule_detections(flagged: pd.DataFrame) -> pd.DataFrame:
    """Stream flags (meter_id, timestamp, reason: one row per reason) as labelled detections."""
    kind_of_reason = {reason.value: kind.value for kind, reason in RULE_FOR_INJECTED.items() if reason}
    unknown = set(flagged["reason"]) - set(kind_of_reason)
    if unknown:
        raise ValueError(f"anomaly reasons {sorted(unknown)} map to no injected kind")
    return pd.DataFrame(
        {
            "meter_id": flagged["meter_id"],
            "timestamp": flagged["timestamp"],
            "kind": flagged["reason"].map(kind_of_reason),
        }
    )


def within_days(truth: pd.DataFrame, days: set) -> pd.DataFrame:
    """Only the injected readings of days the lake holds: a day not streamed yet is not a miss."""
    return truth[truth["timestamp"].dt.date.isin(days)]


def scores_table(scores: list[Score]) -> pd.DataFrame:
    return pd.DataFrame([s.as_dict() for s in scores])
