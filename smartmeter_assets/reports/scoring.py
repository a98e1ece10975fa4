"""Detectors scored the way a fraud team works: in meter-day alerts, against injected events.

An *event* is one injected anomaly: the ground-truth rows (one per anomalous half-hour) of one
meter and kind on London days that follow each other in the kind's own calendar: the next day, or
for a weekend surge the next weekend day (a Sunday and the Saturday after follow each other). An
event *touches* every London day one of its half-hours falls on, and it is *found* when the
detector raised an alert for its meter on one of those days (one visit is all a fraud team needs,
whatever label the alert carries). A flagged meter-day is a true alert when any event touches it.

Why days, not hours: the ground truth carries no event id, and a use that returns every night
(a device run nightly, as another tool may inject it) leaves 21 hours between its half-hours. Cut
at a gap of hours, five nights were five events, and a detector that flags the meter once (the
visit the team makes) found one of five; a home busy every weekend is one problem, not one per
weekend. The fraud team's unit is the meter-day, and a run of anomalous days of one kind on one
meter is the one problem it visits for, as the detector's own episodes are.

Per kind: events, found, recall; the meter-days the detector labelled with that kind and the
share of them an event of that kind touches. Overall: every event, every distinct flagged
meter-day, its precision, and the **alert rate**, flagged meter-days over all meter-days judged:
the workload the detector puts on the team; beside it the false-alert rate (flagged meter-days no
event touches) and the share of meter-days the events themselves touch (a test set can be so
dense that its events alone exceed an alert budget). Undefined ratios are None, never 1.0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

import duckdb
import pandas as pd

from smartmeter_assets.contracts import RAW, RULE_FOR_INJECTED, InjectedAnomaly
from smartmeter_assets.reports.london_time import london_day

OVERALL = "overall"
ALERT_COLUMNS = ("meter_id", "day", "kind")


@dataclass(frozen=True)
class KindScore:
    kind: str
    events: int
    found: int
    recall: float | None
    flagged_meter_days: int
    precision: float | None
    alert_rate: float | None  # overall only: flagged meter-days / all meter-days judged
    false_alert_rate: float | None = None  # overall only: flagged meter-days no event touches / all
    event_share: float | None = None  # overall only: meter-days the events touch / all

    def as_dict(self) -> dict[str, float | int | str | None]:
        return asdict(self)


def truth_events(truth: pd.DataFrame) -> pd.DataFrame:
    """One row per (event, London day it touches): ``event, meter_id, kind, day``."""
    if truth.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ("event", "meter_id", "kind", "day")})
    ordered = truth.sort_values(["meter_id", "kind", "timestamp"]).reset_index(drop=True)
    ordered["day"] = london_day(ordered["timestamp"])
    position = _calendar_position(pd.to_datetime(ordered["day"]), ordered["kind"])
    new_event = (
        ordered["meter_id"].ne(ordered["meter_id"].shift())
        | ordered["kind"].ne(ordered["kind"].shift())
        | position.diff().gt(1)
    )
    ordered["event"] = new_event.cumsum()
    return ordered.loc[:, ["event", "meter_id", "kind", "day"]].drop_duplicates().reset_index(drop=True)


def _calendar_position(day: pd.Series, kind: pd.Series) -> pd.Series:
    """Each day's number in its kind's calendar: consecutive days, or for weekend surges consecutive
    weekend days (Saturday 2w, Sunday 2w + 1 of week w; a weekday counts as its week's Saturday)."""
    ordinal = (day - pd.Timestamp("2000-01-03")).dt.days  # a Monday: weeks start on Mondays
    weekend = 2 * (ordinal // 7) + (day.dt.dayofweek == 6)
    return ordinal.where(kind != InjectedAnomaly.WEEKEND_DAYTIME_SURGE.value, weekend)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def score_alerts(truth: pd.DataFrame, alerts: pd.DataFrame, meter_days: int, days: set[date]) -> list[KindScore]:
    """Scores per kind and overall; only events touching ``days`` count, ``meter_days`` judged in all.

    ``truth``: meter_id, timestamp (GMT), kind. ``alerts``: meter_id, day (London), kind (the
    detector's label). ``meter_days``: how many meter-days the detector judged (the denominator
    of the alert rate).
    """
    events = truth_events(truth)
    events = events[events["day"].isin(days)]
    alerts = alerts.loc[:, list(ALERT_COLUMNS)].astype(object)  # an empty frame has no dtypes to merge on
    alerts = alerts[alerts["day"].isin(days)]
    found_days = events.merge(alerts[["meter_id", "day"]].drop_duplicates(), on=["meter_id", "day"])
    found = set(found_days["event"])
    touched = events[["meter_id", "day", "kind"]].drop_duplicates()
    scores = []
    for kind in InjectedAnomaly:
        own = events[events["kind"] == kind.value]
        labelled = alerts.loc[alerts["kind"] == kind.value, ["meter_id", "day"]].drop_duplicates()
        true_alerts = labelled.merge(touched[touched["kind"] == kind.value], on=["meter_id", "day"])
        n_events = own["event"].nunique()
        n_found = len(set(own["event"]) & found)
        scores.append(
            KindScore(
                kind.value, n_events, n_found, _ratio(n_found, n_events),
                len(labelled), _ratio(len(true_alerts), len(labelled)), None,
            )
        )  # fmt: skip
    flagged = alerts[["meter_id", "day"]].drop_duplicates()
    true_flagged = flagged.merge(touched[["meter_id", "day"]].drop_duplicates(), on=["meter_id", "day"])
    n_events = events["event"].nunique()
    event_days = len(touched[["meter_id", "day"]].drop_duplicates())
    scores.append(
        KindScore(
            OVERALL, n_events, len(found), _ratio(len(found), n_events),
            len(flagged), _ratio(len(true_flagged), len(flagged)), _ratio(len(flagged), meter_days),
            _ratio(len(flagged) - len(true_flagged), meter_days), _ratio(event_days, meter_days),
        )
    )  # fmt: skip
    return scores


def rule_alerts(flagged: pd.DataFrame) -> pd.DataFrame:
    """Stream flags (meter_id, timestamp GMT, reason: one row per reason) as labelled meter-day alerts."""
    kind_of_reason = {reason.value: kind.value for kind, reason in RULE_FOR_INJECTED.items() if reason}
    unknown = set(flagged["reason"]) - set(kind_of_reason)
    if unknown:
        raise ValueError(f"anomaly reasons {sorted(unknown)} map to no injected kind")
    alerts = pd.DataFrame(
        {
            "meter_id": flagged["meter_id"],
            "day": london_day(flagged["timestamp"]) if len(flagged) else pd.Series(dtype=object),
            "kind": flagged["reason"].map(kind_of_reason),
        }
    )
    return alerts.drop_duplicates().reset_index(drop=True)


def scores_table(scores: list[KindScore]) -> pd.DataFrame:
    return pd.DataFrame([s.as_dict() for s in scores])


def scores_summary(scores: list[KindScore]) -> dict[str, object]:
    """The ``--json`` shape: ``{<kind>: {events, found, recall, ...}, precision, alert_rate, ...}``."""
    overall = next(s for s in scores if s.kind == OVERALL)
    summary: dict[str, object] = {
        s.kind: {
            k: v for k, v in s.as_dict().items() if k not in ("kind", "alert_rate", "false_alert_rate", "event_share")
        }
        for s in scores
        if s.kind != OVERALL
    }
    summary.update(
        events=overall.events,
        found=overall.found,
        recall=overall.recall,
        flagged_meter_days=overall.flagged_meter_days,
        precision=overall.precision,
        alert_rate=overall.alert_rate,
        false_alert_rate=overall.false_alert_rate,
        event_share=overall.event_share,
    )
    return summary


def lake_meter_days(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every (meter_id, London day) ``raw/`` holds a reading for: the alert rate's denominator.

    A London day differs from the GMT date only for 23:00-24:00 GMT in summer time, so DuckDB
    reduces the readings to (meter, GMT date, late hour or not) and the zone is applied here, to
    a few rows per meter-day instead of every reading.
    """
    rows = connection.sql(
        f"""
        SELECT DISTINCT meter_id, CAST(timestamp AS DATE) AS gmt_day, hour(timestamp) = 23 AS late
        FROM {RAW.name}
        """
    ).df()
    late_stamp = pd.to_datetime(rows["gmt_day"]) + pd.Timedelta(hours=23)
    day = pd.Series(pd.to_datetime(rows["gmt_day"]).dt.date, index=rows.index)
    day[rows["late"]] = london_day(late_stamp[rows["late"]])
    return pd.DataFrame({"meter_id": rows["meter_id"], "day": day}).drop_duplicates().reset_index(drop=True)
