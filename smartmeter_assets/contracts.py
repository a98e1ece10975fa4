"""The data contracts, written once and imported by the Dagster code and the Spark job alike.

Pure Python on purpose: nothing here imports Spark, pandas or pyarrow at module load, so the
Dagster code location stays light and the Spark job can import it in its Python workers. Every
table schema is written here once, as data: (column name, logical type) pairs (:data:`Columns`).
The converters to engine types live next to each engine, one per engine, and build every schema
from these pairs, never retyped: Arrow in :mod:`smartmeter_assets.lake.schema`, Spark in
:mod:`smartmeter_assets.stream.schema`.

The facts about the source files below were read off real copies of the Kaggle dataset
"Smart Meters in London" (design.md section 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

# --------------------------------------------------------------------------------------------
# The dataset's span
# --------------------------------------------------------------------------------------------
DATASET_FIRST_DAY = date(2011, 11, 23)
DATASET_LAST_DAY = date(2014, 2, 28)
#: A reading is valid when ``VALID_FROM <= timestamp < VALID_UNTIL`` (GMT, as in the source).
VALID_FROM = datetime(DATASET_FIRST_DAY.year, DATASET_FIRST_DAY.month, DATASET_FIRST_DAY.day)
VALID_UNTIL = datetime(DATASET_LAST_DAY.year, DATASET_LAST_DAY.month, DATASET_LAST_DAY.day) + timedelta(days=1)

#: Readings are GMT all year in the source (no DST gap or repeat); the message, ``raw/`` and the
#: partition column ``reading_date`` keep that (the stored timestamp is GMT as read).
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
#: What a reading time looks like on the wire (its length and shape are checked by the stream).
TIMESTAMP_EXAMPLE = "2013-01-01 00:00:00"
#: London's wall clock. Every derived column (hour_of_day, day_of_week, is_peak_hour, is_weekend)
#: and every anomaly rule window is read on it: a utility's evening peak is 17:00-21:00 on the
#: clock on the wall, so a summer reading stamped 16:30 GMT (17:30 BST) is in the peak. A London
#: day therefore has 46 half-hours when the clocks go forward and 50 when they go back. The daily
#: weather file stamps local midnight in UTC, so its day is read in this zone too.
LOCAL_TIMEZONE = "Europe/London"
HALF_HOUR = timedelta(minutes=30)

#: A table's columns as data: (name, logical type) pairs, in order. The logical types are
#: ``string``, ``double``, ``long``, ``int``, ``boolean``, ``binary``, ``date``, ``array<string>``
#: and three timestamps: ``timestamp`` (naive, microseconds: what delta-rs stores as Delta's
#: timestamp_ntz), ``timestamp[ms]`` (naive, milliseconds: the staged Parquet, as pandas writes it)
#: and ``timestamp[utc]`` (zone-aware UTC, microseconds: a moment, not a reading's stamp).
Columns = tuple[tuple[str, str], ...]


def london_wall_clock(gmt: datetime) -> datetime:
    """The London wall-clock time (naive) of a naive GMT stamp: the reference the Spark side must agree with."""
    return gmt.replace(tzinfo=UTC).astimezone(ZoneInfo(LOCAL_TIMEZONE)).replace(tzinfo=None)


# --------------------------------------------------------------------------------------------
# Source files (Kaggle format, unchanged)
# --------------------------------------------------------------------------------------------
HOUSEHOLDS_FILE = "informations_households.csv"
HOUSEHOLD_COLUMNS = ("LCLid", "stdorToU", "Acorn", "Acorn_grouped", "file")

#: Readings live in ``halfhourly_dataset/block_N.csv``; some copies flatten that to
#: ``halfhourly_dataset_block_N.csv`` in the data folder. Both are accepted.
READINGS_GLOBS = ("halfhourly_dataset/block_*.csv", "halfhourly_dataset_block_*.csv")
READING_COLUMNS = ("LCLid", "tstp", "energy(kWh/hh)")
#: Energy is padded with spaces and may be this string.
ENERGY_NULL_TOKEN = "Null"
#: Some copies suffix timestamps with ``.0000000``; only the first 19 characters carry the time.
TIMESTAMP_LENGTH = 19

WEATHER_HOURLY_FILE = "weather_hourly_darksky.csv"
WEATHER_HOURLY_COLUMNS = (
    "visibility", "windBearing", "temperature", "time", "dewPoint", "pressure",
    "apparentTemperature", "windSpeed", "precipType", "icon", "humidity", "summary",
)  # fmt: skip
WEATHER_DAILY_FILE = "weather_daily_darksky.csv"
WEATHER_DAILY_COLUMNS = (
    "temperatureMax", "temperatureMaxTime", "windBearing", "icon", "dewPoint",
    "temperatureMinTime", "cloudCover", "windSpeed", "pressure", "apparentTemperatureMinTime",
    "apparentTemperatureHigh", "precipType", "visibility", "humidity",
    "apparentTemperatureHighTime", "apparentTemperatureLow", "apparentTemperatureMax", "uvIndex",
    "time", "sunsetTime", "temperatureLow", "temperatureMin", "temperatureHigh", "sunriseTime",
    "temperatureHighTime", "uvIndexTime", "summary", "temperatureLowTime",
    "apparentTemperatureMin", "apparentTemperatureMaxTime", "apparentTemperatureLowTime",
    "moonPhase",
)  # fmt: skip

ACORN_CATEGORIES = ("Affluent", "Comfortable", "Adversity")
ACORN_GROUPS = tuple(f"ACORN-{letter}" for letter in "ABCDEFGHIJKLMNOPQ")
#: ``ACORN-U`` (unclassified) and ``ACORN-`` (blank) households exist; their category is this.
UNKNOWN_ACORN_CATEGORY = "Unknown"
TARIFFS = ("Std", "ToU")


# --------------------------------------------------------------------------------------------
# Staged sources: the cleaned frames the readers produce and the enrichment consumes.
# Timestamps are naive datetime64 in GMT/UTC (the source's own zone), days are ``datetime.date``.
# --------------------------------------------------------------------------------------------
STAGED_HOUSEHOLD_COLUMNS = ("meter_id", "tariff_type", "acorn_group", "acorn_category", "block")
#: Staged readings, Parquet under ``<lake>/sources/readings/reading_date=YYYY-MM-DD/`` (the date is
#: the folder's, each file holds the other three).
STAGED_READING_TYPES: Columns = (
    ("meter_id", "string"),
    ("timestamp", "timestamp[ms]"),
    ("energy_kwh", "double"),
    ("reading_date", "date"),
)
STAGED_READING_COLUMNS = tuple(name for name, _ in STAGED_READING_TYPES)
#: Hourly weather, one row per UTC hour ``time`` (missing hours stay missing).
STAGED_WEATHER_HOURLY_COLUMNS = (
    "time", "temperature", "apparent_temperature", "dew_point", "humidity", "pressure",
    "wind_speed", "wind_bearing", "visibility", "precip_type", "icon", "weather_summary",
)  # fmt: skip
#: Daily weather, one row per London-local ``day`` (the fields the hourly file lacks, and more).
STAGED_WEATHER_DAILY_COLUMNS = (
    "day", "cloud_cover", "temperature_min", "temperature_max", "humidity", "wind_speed",
    "pressure", "uv_index", "summary",
)  # fmt: skip
#: Source rejects, kept as a dead letter beside the staged sources.
SOURCE_REJECT_COLUMNS = ("source_file", "line_number", "reason", "raw_line")


# --------------------------------------------------------------------------------------------
# The Kafka message: exactly these 14 fields, JSON, key = meter_id (UTF-8)
# --------------------------------------------------------------------------------------------
class FieldType(StrEnum):
    STRING = "string"
    DOUBLE = "double"


@dataclass(frozen=True)
class MessageField:
    name: str
    type: FieldType
    nullable: bool
    source: str  # where the value comes from; says so for every weather field


MESSAGE_FIELDS: tuple[MessageField, ...] = (
    MessageField("meter_id", FieldType.STRING, False, "readings LCLid"),
    MessageField("timestamp", FieldType.STRING, False, "readings tstp, GMT, 'YYYY-MM-DD HH:MM:SS'"),
    MessageField("energy_kwh", FieldType.DOUBLE, False, "readings energy(kWh/hh)"),
    MessageField("tariff_type", FieldType.STRING, True, "households stdorToU; null: unknown household"),
    MessageField("acorn_group", FieldType.STRING, True, "households Acorn; null: unknown household"),
    MessageField("acorn_category", FieldType.STRING, True, "households Acorn_grouped; null: unknown"),
    MessageField("temperature", FieldType.DOUBLE, True, "weather_hourly temperature at the hour"),
    MessageField("humidity", FieldType.DOUBLE, True, "weather_hourly humidity at the hour"),
    MessageField("wind_speed", FieldType.DOUBLE, True, "weather_hourly windSpeed at the hour"),
    MessageField("cloud_cover", FieldType.DOUBLE, True, "weather_daily cloudCover (hourly has none)"),
    MessageField("weather_summary", FieldType.STRING, True, "weather_hourly summary at the hour"),
    MessageField("precip_intensity", FieldType.DOUBLE, True, "no source in the real data: always null"),
    MessageField("pressure", FieldType.DOUBLE, True, "weather_hourly pressure (blank in places)"),
    MessageField("ingestion_time", FieldType.STRING, False, "publish time, ISO-8601 UTC ms 'Z'"),
)
MESSAGE_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in MESSAGE_FIELDS)
MESSAGE_KEY_FIELD = "meter_id"
#: A reading is identified by these from staging to the lake.
READING_KEY = ("meter_id", "timestamp")
INGESTION_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # trimmed to milliseconds when written

#: A Kafka record as Spark's kafka source yields it (the stream reads these columns and nothing
#: else, from the broker or from a replayed file alike).
KAFKA_RECORD_COLUMNS: Columns = (
    ("key", "binary"),
    ("value", "binary"),
    ("topic", "string"),
    ("partition", "int"),
    ("offset", "long"),
    ("timestamp", "timestamp"),
    ("timestampType", "int"),
)


# --------------------------------------------------------------------------------------------
# Derived columns and their boundaries; hours and days on London's wall clock (LOCAL_TIMEZONE).
# Every band is half-open: it includes its lower bound and excludes its upper one, so 5.0 °C is
# Mild, 15.0 Warm, 25.0 Hot; 0.2 kWh is Medium, 0.5 High, 1.0 Very High. One rule, no ambiguity
# at the edges.
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Band:
    label: str
    lower: float | None  # inclusive; None = unbounded
    upper: float | None  # exclusive; None = unbounded

    def contains(self, value: float) -> bool:
        return (self.lower is None or value >= self.lower) and (self.upper is None or value < self.upper)


TEMPERATURE_BANDS: tuple[Band, ...] = (
    Band("Cold", None, 5.0),
    Band("Mild", 5.0, 15.0),
    Band("Warm", 15.0, 25.0),
    Band("Hot", 25.0, None),
)
#: Temperature band of a reading with no weather observation.
UNKNOWN_TEMPERATURE_BAND = "Unknown"

CONSUMPTION_LEVELS: tuple[Band, ...] = (
    Band("Low", None, 0.2),
    Band("Medium", 0.2, 0.5),
    Band("High", 0.5, 1.0),
    Band("Very High", 1.0, None),
)

#: Evening peak: PEAK_HOURS[0] <= hour_of_day < PEAK_HOURS[1] (London local hours).
PEAK_HOURS = (17, 21)
#: day_of_week follows Spark's dayofweek(): 1 = Sunday .. 7 = Saturday (the London local day).
SUNDAY, SATURDAY = 1, 7
WEEKEND_DAYS = (SUNDAY, SATURDAY)

DERIVED_COLUMNS = (
    "hour_of_day", "day_of_week", "is_peak_hour", "is_weekend", "temperature_band", "consumption_level",
)  # fmt: skip


def band_of(bands: tuple[Band, ...], value: float | None, unknown: str | None = None) -> str | None:
    """The label of the band holding ``value`` (the reference the Spark expressions are tested against)."""
    if value is None:
        return unknown
    for band in bands:
        if band.contains(value):
            return band.label
    raise ValueError(f"{value} falls in no band")  # unreachable: the bands cover the real line


# --------------------------------------------------------------------------------------------
# Anomaly rules. Thresholds are settings (defaults 2.0, 0.5, 1.5 kWh); the shape is contract.
# A flagged row carries every reason that applies, in this order.
# --------------------------------------------------------------------------------------------
class AnomalyReason(StrEnum):
    EXTREME_CONSUMPTION = "extreme_consumption"
    NIGHT_CONSUMPTION = "night_consumption"
    WEEKEND_DAYTIME_CONSUMPTION = "weekend_daytime_consumption"


@dataclass(frozen=True)
class AnomalyRule:
    reason: AnomalyReason
    threshold_setting: str  # name of the Settings field holding the kWh threshold (exceeded: >)
    hours: tuple[int, int] | None  # start <= hour_of_day < end (London local); None = any hour
    weekend_only: bool


ANOMALY_RULES: tuple[AnomalyRule, ...] = (
    AnomalyRule(AnomalyReason.EXTREME_CONSUMPTION, "extreme_consumption_kwh", None, False),
    AnomalyRule(AnomalyReason.NIGHT_CONSUMPTION, "night_consumption_kwh", (2, 5), False),
    AnomalyRule(AnomalyReason.WEEKEND_DAYTIME_CONSUMPTION, "weekend_daytime_consumption_kwh", (9, 17), True),
)


def anomaly_reasons(energy_kwh: float, hour_of_day: int, day_of_week: int, thresholds: dict[str, float]) -> list[str]:
    """Every rule a reading breaks (reference implementation; the Spark side must agree)."""
    reasons = []
    for rule in ANOMALY_RULES:
        if rule.hours is not None and not rule.hours[0] <= hour_of_day < rule.hours[1]:
            continue
        if rule.weekend_only and day_of_week not in WEEKEND_DAYS:
            continue
        if energy_kwh > thresholds[rule.threshold_setting]:
            reasons.append(rule.reason.value)
    return reasons


# --------------------------------------------------------------------------------------------
# Why a record is rejected
# --------------------------------------------------------------------------------------------
class SourceRejectReason(StrEnum):
    """A source CSV row that cannot become a reading / household / weather row."""

    MISSING_FIELD = "missing_field"  # blank id or timestamp, short row
    TOO_MANY_FIELDS = "too_many_fields"  # a row wider than the header
    UNPARSEABLE_TIMESTAMP = "unparseable_timestamp"
    ENERGY_NULL = "energy_null"  # the literal ``Null`` or blank
    ENERGY_NOT_NUMERIC = "energy_not_numeric"
    ENERGY_NEGATIVE = "energy_negative"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"  # same key as a kept row, other values
    DUPLICATE_KEY = "duplicate_key"  # households / weather: the key seen before


class StreamRejectReason(StrEnum):
    """A Kafka record that cannot become a valid reading; it lands in ``rejected/``."""

    UNPARSEABLE_JSON = "unparseable_json"
    MISSING_METER_ID = "missing_meter_id"
    MISSING_TIMESTAMP = "missing_timestamp"
    UNPARSEABLE_TIMESTAMP = "unparseable_timestamp"
    MISSING_ENERGY = "missing_energy"
    NON_NUMERIC_ENERGY = "non_numeric_energy"
    NEGATIVE_ENERGY = "negative_energy"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"


# --------------------------------------------------------------------------------------------
# The lake: Delta tables written by delta-rs (design.md section 3)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LakeTable:
    name: str  # also the folder under the lake root and the suffix of the Dagster asset key
    partition_column: str
    event_time_column: str  # the column "newest event time" is read from
    columns: Columns

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


_KAFKA_COORDINATES = (("kafka_partition", "int"), ("kafka_offset", "long"))
_READING_COLUMNS = (
    ("meter_id", "string"),
    ("timestamp", "timestamp"),
    ("energy_kwh", "double"),
    ("tariff_type", "string"),
    ("acorn_group", "string"),
    ("acorn_category", "string"),
    ("temperature", "double"),
    ("humidity", "double"),
    ("wind_speed", "double"),
    ("cloud_cover", "double"),
    ("weather_summary", "string"),
    ("precip_intensity", "double"),
    ("pressure", "double"),
    ("ingestion_time", "timestamp"),
    ("hour_of_day", "int"),
    ("day_of_week", "int"),
    ("is_peak_hour", "boolean"),
    ("is_weekend", "boolean"),
    ("temperature_band", "string"),
    ("consumption_level", "string"),
    ("is_anomaly", "boolean"),
    ("anomaly_reasons", "array<string>"),
    *_KAFKA_COORDINATES,
    ("reading_date", "date"),
)

RAW = LakeTable("raw", "reading_date", "timestamp", _READING_COLUMNS)
ANOMALIES = LakeTable("anomalies", "reading_date", "timestamp", _READING_COLUMNS)
REJECTED = LakeTable(
    "rejected",
    "ingest_date",
    "kafka_timestamp",
    (
        ("reason", "string"),
        ("raw_key", "string"),
        ("raw_value", "string"),
        ("topic", "string"),
        *_KAFKA_COORDINATES,
        ("kafka_timestamp", "timestamp"),
        ("meter_id", "string"),  # when it could be read, to reconcile per published day
        ("timestamp", "string"),  # as published, for the same reason
        ("ingest_date", "date"),
    ),
)
#: A reject is one Kafka record: the same coordinates and raw value are the same record read again.
REJECT_KEY = ("kafka_partition", "kafka_offset", "raw_value")
AGGREGATE_KEYS = ("acorn_category", "acorn_group", "tariff_type", "temperature_band")
AGGREGATED = LakeTable(
    "aggregated",
    "window_date",
    "window_start",
    (
        ("window_start", "timestamp"),
        ("window_end", "timestamp"),
        *((key, "string") for key in AGGREGATE_KEYS),
        ("total_energy_kwh", "double"),
        ("avg_energy_kwh", "double"),
        ("max_energy_kwh", "double"),
        ("reading_count", "long"),
        ("distinct_meters", "long"),
        ("avg_temperature", "double"),
        ("anomaly_count", "long"),
        ("window_date", "date"),
    ),
)
LAKE_TABLES: tuple[LakeTable, ...] = (RAW, AGGREGATED, ANOMALIES, REJECTED)
CHECKPOINTS_DIR = "checkpoints"
#: Staged sources (Parquet, written by the Dagster IO manager and the readings asset).
SOURCES_DIR = "sources"
#: Per-day publish records (Delta): which offsets each published day occupies, one row per
#: (day, partition) per publish, empty partitions included (see lake.published).
PUBLISHED_DIR = "published"
PUBLISHED_COLUMNS: Columns = (
    ("day", "date"),
    ("topic", "string"),
    ("partition", "int"),
    ("first_offset", "long"),  # null: the day put nothing in this partition
    ("last_offset", "long"),
    ("records", "long"),
    ("bytes", "long"),
    ("run_id", "string"),
    ("published_at", "timestamp[utc]"),
    ("key_digest", "string"),  # digest of the day's published keys; null in records written before it
)
PUBLISHED_NOT_NULL = ("day", "topic", "partition", "records", "bytes", "run_id", "published_at")
REPORTS_DIR = "reports"
#: The meter-day detector's alerts: a Delta table under ``<lake>/reports/`` (also the asset's name).
ALERTS_TABLE = "meter_day_alerts"
ALERT_COLUMNS: Columns = (
    ("meter_id", "string"),
    ("day", "date"),  # London day
    ("kind", "string"),
    ("score", "double"),
    ("evidence", "string"),
)


# --------------------------------------------------------------------------------------------
# Ground truth of injected anomalies (the sample generator, ``smartmeter inject``): read ONLY by
# the anomaly scoring, never by a detector. One row per anomalous half-hour, GMT stamps.
# --------------------------------------------------------------------------------------------
GROUND_TRUTH_FILE = "ground_truth_anomalies.csv"
GROUND_TRUTH_COLUMNS = ("meter_id", "timestamp", "kind")  # timestamp as TIMESTAMP_FORMAT


class InjectedAnomaly(StrEnum):
    METER_FAULT_SPIKE = "meter_fault_spike"
    NIGHT_USAGE = "night_usage"
    WEEKEND_DAYTIME_SURGE = "weekend_daytime_surge"
    FLAT_LINE = "flat_line"  # a stuck meter: the same value for whole days; no fixed rule sees it
    SCALED_DOWN = "scaled_down"  # theft (under-reporting, a bypass): whole days x 0.1-0.5
    ZEROED_WINDOW = "zeroed_window"  # 6-12 consecutive hours of 0 (a cut or a bypassed meter)


#: The fixed rule meant to catch each injected kind (None: no rule can).
RULE_FOR_INJECTED: dict[InjectedAnomaly, AnomalyReason | None] = {
    InjectedAnomaly.METER_FAULT_SPIKE: AnomalyReason.EXTREME_CONSUMPTION,
    InjectedAnomaly.NIGHT_USAGE: AnomalyReason.NIGHT_CONSUMPTION,
    InjectedAnomaly.WEEKEND_DAYTIME_SURGE: AnomalyReason.WEEKEND_DAYTIME_CONSUMPTION,
    InjectedAnomaly.FLAT_LINE: None,
    InjectedAnomaly.SCALED_DOWN: None,
    InjectedAnomaly.ZEROED_WINDOW: None,
}

#: Per-micro-batch figures of the stream, kept in the lake (Delta) for the checks and the UI.
PROGRESS_DIR = "stream_progress"
PROGRESS_COLUMNS: Columns = (
    ("query_name", "string"),
    ("writer_id", "string"),  # <query>:<checkpoint identity>: batch ids restart with a new checkpoint
    ("batch_id", "long"),
    ("recorded_at", "timestamp"),
    ("input_rows", "long"),
    ("rows_per_second", "double"),
    ("duration_ms", "long"),
    ("late_rows_dropped", "long"),
    ("rejected_rows", "long"),
    ("duplicate_rejects", "long"),
    ("raw_rows_written", "long"),
    ("duplicate_rows", "long"),
    ("anomaly_rows", "long"),
    ("aggregated_rows_written", "long"),
    ("offsets", "string"),  # JSON {partition: next offset}
    ("newest_event_time", "string"),
)
