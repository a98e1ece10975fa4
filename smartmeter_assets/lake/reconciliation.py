"""Did every published reading land exactly once? ``raw + rejected = published``, day by day, on keys.

Pure over the per-day key comparison (:class:`DayKeys`) so the rule is tested on its own;
:mod:`smartmeter_assets.stream.landing` gathers the keys from the staged days, the publish
records, raw/ and rejected/ (it sits above the lake, which it imports, never the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DayKeys:
    """One published day: its latest publish's keys against the keys in raw/ + rejected/."""

    day: str
    published: int
    landed: int  # distinct keys in raw/ or rejected/
    missing: int  # published, in neither
    extra: int  # in the lake, never published that day
    in_both: int  # in raw/ AND rejected/: landed twice
    missing_sample: tuple[str, ...] = ()  # "meter_id timestamp"
    extra_sample: tuple[str, ...] = ()


#: How many days' problems and samples the check's metadata lists.
SAMPLE_DAYS = 20


@dataclass(frozen=True)
class Reconciliation:
    problems: list[str]
    pending_days: list[str]  # short, but the stream has not caught up yet: not (yet) a failure
    figures: dict[str, int] = field(default_factory=dict)
    missing_sample: list[str] = field(default_factory=list)  # "day: meter_id timestamp, ..."
    extra_sample: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def reconcile(
    days: list[DayKeys],
    changed_days: list[str],
    raw_duplicates: int,
    caught_up: bool,
    raw_days_without_publish: int = 0,
) -> Reconciliation:
    """Per day: the keys of its latest publish against the keys in raw/ + rejected/.

    A key in the lake that the day never published, or in both raw/ and rejected/, is always
    wrong (something landed that was not sent, or landed twice). A published key in neither is
    wrong once the stream has read everything; before that, the day is pending. A day whose staged
    readings changed since its publish cannot be judged on keys: re-publish it.
    """
    problems: list[str] = []
    pending: list[str] = []
    if raw_duplicates:
        problems.append(f"{raw_duplicates} extra rows share a (meter_id, timestamp) in raw/")
    for day in changed_days:
        problems.append(f"{day}: the staged readings changed since the day was published: re-publish it")
    for day in days:
        if day.extra:
            problems.append(f"{day.day}: {day.extra} keys in the lake were not published that day")
        if day.in_both:
            problems.append(f"{day.day}: {day.in_both} keys are in both raw/ and rejected/")
        if day.missing:
            if caught_up:
                problems.append(
                    f"{day.day}: {day.missing} of {day.published} published keys are in neither raw/ nor rejected/"
                )
            else:
                pending.append(day.day)
    figures = {
        "published": sum(d.published for d in days),
        "landed": sum(d.landed for d in days),
        "missing": sum(d.missing for d in days),
        "extra": sum(d.extra for d in days),
        "in_raw_and_rejected": sum(d.in_both for d in days),
        "days_published": len(days) + len(changed_days),
        "days_pending": len(pending),
        "days_changed_since_publish": len(changed_days),
        "raw_days_without_publish_record": raw_days_without_publish,
        "raw_duplicates": raw_duplicates,
    }
    return Reconciliation(
        problems,
        pending,
        figures,
        missing_sample=[f"{d.day}: {', '.join(d.missing_sample)}" for d in days if d.missing][:SAMPLE_DAYS],
        extra_sample=[f"{d.day}: {', '.join(d.extra_sample)}" for d in days if d.extra][:SAMPLE_DAYS],
    )
