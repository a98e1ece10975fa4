"""The lake's Delta tables as observable assets: Dagster sees them, the Spark stream writes them."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetSpec,
    DataVersion,
    MetadataValue,
    ObserveResult,
    multi_observable_source_asset,
)

from smartmeter_assets.contracts import LAKE_TABLES, LakeTable
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.lake.delta import open_table
from smartmeter_assets.lake.observation import TableObservation, observe_delta, observe_table
from smartmeter_assets.lake.storage import Lake

GROUP = "lake"
TOPIC_ASSET = "smart_meter_topic"
#: Dagster's tag for an observation's data version (what ObserveResult(data_version=...) sets).
DATA_VERSION_TAG = "dagster/data_version"
#: Dagster's metadata key for when an observed asset's data last changed: its freshness check reads
#: it, and counts an observation without it as "never updated".
LAST_UPDATED_METADATA = "dagster/last_updated_timestamp"


def lake_asset_key(table: LakeTable) -> AssetKey:
    return AssetKey(f"lake_{table.name}")


LAKE_SPECS = [
    AssetSpec(
        lake_asset_key(table),
        deps=[TOPIC_ASSET],
        group_name=GROUP,
        kinds={"delta", "spark"},
        description=f"Delta table `{table.name}/` written by the Spark stream, partitioned by "
        f"{table.partition_column}.",
        metadata={"lake/table": table.name, "lake/partition_column": table.partition_column},
    )
    for table in LAKE_TABLES
]


def observation_metadata(lake: Lake, seen: TableObservation) -> dict[str, object]:
    per_day = seen.rows_per_partition
    return {
        "rows": seen.rows,
        "files": seen.files,
        "bytes": seen.bytes,
        "delta_version": -1 if seen.version is None else seen.version,
        "newest_event_time": seen.newest_event_time or "",
        "partitions": len(per_day),
        "rows_per_partition": MetadataValue.json(per_day),
        "location": lake.url(seen.table),
        **({} if seen.newest_file_time is None else last_updated_metadata(seen.newest_file_time)),
    }


def last_updated_metadata(epoch_seconds: float) -> dict[str, object]:
    return {LAST_UPDATED_METADATA: MetadataValue.timestamp(epoch_seconds)}


def observation_event(
    lake: Lake, table: LakeTable, seen: TableObservation, extra: Mapping[str, object] | None = None
) -> AssetObservation:
    """What was ``seen`` of one table as an AssetObservation (its data version the Delta version).

    ``extra`` adds metadata to the table's observation (the sensor's lag on ``lake_raw``) rather
    than as an observation of its own: Dagster judges an observed asset by its LATEST observation
    only, so every one must carry the data version (the reports' refresh compares it) and the last
    update time (the freshness check reads it).
    """
    return AssetObservation(
        asset_key=lake_asset_key(table),
        metadata={**observation_metadata(lake, seen), **(extra or {})},
        tags={DATA_VERSION_TAG: seen.data_version},
    )


def observation_events(
    lake: Lake, extra: Mapping[AssetKey, Mapping[str, object]] | None = None
) -> list[AssetObservation]:
    """The four tables as AssetObservations (what ``smartmeter run`` reports once at its end)."""
    return [
        observation_event(lake, table, observe_table(lake, table), (extra or {}).get(lake_asset_key(table)))
        for table in LAKE_TABLES
    ]


@dataclass(frozen=True)
class Observed:
    """What the stream sensor remembers of a table between ticks (kept in its cursor)."""

    version: int | None
    last_updated: float | None  # epoch seconds of the newest data file, as last observed

    def to_json(self) -> list[object]:
        return [self.version, self.last_updated]

    @classmethod
    def from_json(cls, value: list[object]) -> "Observed":
        version, last_updated = value
        return cls(None if version is None else int(version), None if last_updated is None else float(last_updated))


def changed_observation_events(
    lake: Lake,
    last: Mapping[str, Observed],
    extra: Mapping[AssetKey, Mapping[str, object]] | None = None,
    extra_moved: bool = False,
) -> tuple[list[AssetObservation], dict[str, Observed]]:
    """Observations of the tables whose Delta version moved since ``last``, and what is known now.

    The stream sensor ticks every few seconds for months: observing an unchanged table again would
    re-aggregate every file's statistics and add an event to the log for nothing. Each table's log
    is opened once (from its newest checkpoint on, which lake_maintenance writes): its version
    decides, and only a moved table's add actions are aggregated. A table never seen before (absent from
    ``last``) is observed once, even when still empty. ``extra`` metadata (the lag on ``lake_raw``)
    joins a table's observation; for an unchanged table it goes out alone only when it moved
    (``extra_moved``), in a light observation that still carries the remembered data version and
    last update, so the latest observation is always a whole one for Dagster.
    """
    events: list[AssetObservation] = []
    now: dict[str, Observed] = {}
    for table in LAKE_TABLES:
        key = lake_asset_key(table)
        more = (extra or {}).get(key) or {}
        before = last.get(table.name)
        delta = open_table(lake, table)
        if before is None or before.version != (None if delta is None else delta.version()):
            seen = observe_delta(table, delta)
            events.append(observation_event(lake, table, seen, more))
            now[table.name] = Observed(seen.version, seen.newest_file_time)
            continue
        now[table.name] = before
        if more and extra_moved:
            updated = {} if before.last_updated is None else last_updated_metadata(before.last_updated)
            unchanged = TableObservation(table=table.name, version=before.version)
            events.append(
                AssetObservation(
                    asset_key=key, metadata={**more, **updated}, tags={DATA_VERSION_TAG: unchanged.data_version}
                )
            )
    return events, now


@multi_observable_source_asset(specs=LAKE_SPECS, name="lake_tables", can_subset=True)
def lake_tables(context: AssetExecutionContext, lake: LakeResource) -> Iterator[ObserveResult]:
    """Observe the tables from their Delta logs; the data version is the Delta table version."""
    for table in LAKE_TABLES:
        key = lake_asset_key(table)
        if key not in context.selected_asset_keys:
            continue
        seen = observe_table(lake.lake(), table)
        yield ObserveResult(
            asset_key=key,
            data_version=DataVersion(seen.data_version),
            metadata=observation_metadata(lake.lake(), seen),
        )
