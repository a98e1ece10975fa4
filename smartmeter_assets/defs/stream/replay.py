"""``replay_clock``: publishes the next unpublished day on a clock, so the pipeline runs like a live feed.

It replaces the original pipeline's one-message-per-second pause: a whole day goes out per tick
(paced by ``publish_speedup`` if set), through the same partitioned assets a backfill uses, so
the UI shows each replayed day as a normal materialization. Before the first day it materializes
the sources once.

The lake, not Dagster's materialization record, says what is published: a day counts as published
when ``<lake>/published`` holds a publish of it, and stops counting when, with the stream caught up
(lag 0), raw/ + rejected/ hold fewer of its readings than that publish sent (messages lost with a
broker, a topic recreated before the stream read it). Such a day is the next one the clock
publishes again, before any newer day; the stream merges raw/ on the key, so it lands once.
"""

from datetime import date

from dagster import (
    AssetKey,
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from smartmeter_assets.defs.stream.sensor import ACTIVE_STATUSES
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.sources.staging import publishable_days
from smartmeter_assets.stream.lag import measure_lag
from smartmeter_assets.stream.landing import latest_publishes, short_days

REPLAY_SENSOR = "replay_clock"
REPLAY_TAG = "smartmeter/replay"
SOURCE_KEYS = [AssetKey(name) for name in ("households", "weather_hourly", "weather_daily", "readings")]
PUBLISH_KEYS = [AssetKey("enriched_readings"), AssetKey("smart_meter_topic")]


def next_day_to_publish(staged: list[date], published: set[str], start: date | None) -> date | None:
    """The earliest staged day (on or after ``start``) that is not published (in the lake)."""
    for day in staged:
        if (start is None or day >= start) and day.isoformat() not in published:
            return day
    return None


def replay_in_flight(instance: DagsterInstance) -> bool:
    in_flight = RunsFilter(tags={REPLAY_TAG: "true"}, statuses=ACTIVE_STATUSES)
    return bool(instance.get_run_records(filters=in_flight, limit=1))


def published_in_lake(lake: Lake, settings: Settings) -> set[str]:
    """Days with a publish record, minus those short in the lake once the stream has caught up.

    While the stream is behind (or its lag is unknown), a short day may still be on its way: it
    stays published, so a day is never sent twice just because the stream is slow.
    """
    published = {p.day for p in latest_publishes(lake)}
    short = short_days(lake)
    if short:
        measured = measure_lag(settings)
        if measured is not None and measured.total == 0:
            published -= set(short)
    return published


def build_replay_clock(settings: Settings) -> SensorDefinition:
    lake = Lake.from_settings(settings)

    @sensor(
        name=REPLAY_SENSOR,
        asset_selection=[*SOURCE_KEYS, *PUBLISH_KEYS],
        minimum_interval_seconds=settings.replay_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if settings.replay_enabled else DefaultSensorStatus.STOPPED,
        description="Every interval, publishes the next day not yet on the topic (a simulated live feed).",
    )
    def replay_clock(context: SensorEvaluationContext) -> SensorResult | SkipReason:
        instance = context.instance
        if replay_in_flight(instance):
            return SkipReason("the previous replay run is still in flight")
        if instance.get_latest_materialization_event(AssetKey("readings")) is None:
            return SensorResult(
                run_requests=[RunRequest(asset_selection=SOURCE_KEYS, tags={REPLAY_TAG: "true"})],
            )
        published = published_in_lake(lake, settings)
        day = next_day_to_publish(publishable_days(lake), published, settings.replay_start_date)
        if day is None:
            return SkipReason("every staged day is published: the replay is complete")
        again = day.isoformat() in {p.day for p in latest_publishes(lake)}
        context.log.info(f"replaying {day}" + (" again: it is short in the lake" if again else ""))
        return SensorResult(
            run_requests=[
                RunRequest(asset_selection=PUBLISH_KEYS, partition_key=day.isoformat(), tags={REPLAY_TAG: "true"})
            ],
        )

    return replay_clock
