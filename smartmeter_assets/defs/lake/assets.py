"""The lake's Delta tables as observable assets: Dagster sees them, the Spark stream writes them."""

from collections.abc import Iterator, Mapping

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
from smartmeter_assets.lake.observation import TableObservation, observe_table, table_version
from smartmeter_assets.lake.storage import Lake

GROUP = "lake"
TOPIC_ASSET = "smart_meter_topic"
#: Dagster's tag for an observation's data version (what ObserveResult(data_version=...) sets).
DATA_VERSION_TAG = "dagster/data_version"


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
    }


def observation_event(lake: Lake, table: LakeTable) -> AssetObservation:
    """One table as an AssetObservation, its data version the Delta version."""
    seen = observe_table(lake, table)
    return AssetObservation(
        asset_key=lake_asset_key(table),
        metadata=observation_metadata(lake, seen),
        tags={DATA_VERSION_TAG: seen.data_version},
    )


def observation_events(lake: Lake) -> list[AssetObservation]:
    """The four tables as AssetObservations (what ``smartmeter run`` reports once at its end)."""
    return [observation_event(lake, table) for table in LAKE_TABLES]


def changed_observation_events(
    lake: Lake, last_versions: Mapping[str, int | None]
) -> tuple[list[AssetObservation], dict[str, int | None]]:
    """Observations of the tables whose Delta version moved since ``last_versions``, and the versions now.

    The stream sensor ticks every few seconds for months: observing an unchanged table again would
    re-aggregate every file's statistics and add an event to the log for nothing. A table never
    seen before (absent from ``last_versions``) is observed once, even when still empty.
    """
    events: list[AssetObservation] = []
    versions: dict[str, int | None] = {}
    for table in LAKE_TABLES:
        versions[table.name] = table_version(lake, table)
        if table.name not in last_versions or last_versions[table.name] != versions[table.name]:
            events.append(observation_event(lake, table))
    return events, versions


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
