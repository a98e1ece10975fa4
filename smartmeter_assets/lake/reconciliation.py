"""Did every published reading land exactly once? ``raw + rejected = published``, day by day.

Pure over per-day counts so the rule is tested on its own; the asset check gathers the counts
from the publish records, the Delta logs and one DuckDB query over ``rejected/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reconciliation:
    problems: list[str]
    pending_days: list[str]  # short, but the stream has not caught up yet: not (yet) a failure
    figures: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems


def reconcile(
    published: dict[str, int],
    raw: dict[str, int],
    rejected: dict[str, int],
    raw_duplicates: int,
    caught_up: bool,
) -> Reconciliation:
    """Per day: raw rows + rejected readings against the records of the day's latest publish.

    More than published is always wrong (something counted twice). Fewer is wrong once the stream
    has read everything; before that, the day is pending.
    """
    problems: list[str] = []
    pending: list[str] = []
    if raw_duplicates:
        problems.append(f"{raw_duplicates} extra rows share a (meter_id, timestamp) in raw/")
    for day, count in sorted(published.items()):
        landed = raw.get(day, 0) + rejected.get(day, 0)
        if landed > count:
            problems.append(
                f"{day}: {landed} landed (raw {raw.get(day, 0)} + rejected {rejected.get(day, 0)}) > {count} published"
            )
        elif landed < count:
            if caught_up:
                problems.append(
                    f"{day}: {count - landed} of {count} published readings are in neither raw/ nor rejected/"
                )
            else:
                pending.append(day)
    unpublished = sorted(set(raw) - set(published))
    figures = {
        "published": sum(published.values()),
        "raw": sum(raw.values()),
        "rejected": sum(rejected.values()),
        "days_published": len(published),
        "days_pending": len(pending),
        "raw_days_without_publish_record": len(unpublished),
        "raw_duplicates": raw_duplicates,
    }
    return Reconciliation(problems, pending, figures)
