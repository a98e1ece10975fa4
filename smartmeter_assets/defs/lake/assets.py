"""The lake's Delta tables as observable assets: Dagster sees them, the Spark stream writes them."""

from collections.abc import Iterator

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
from smartmeter_assets.lake.observation import TableObservation, observe_table
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


def observation_events(lake: Lake) -> list[AssetObservation]:
    """The four tables as AssetObservations (what the stream sensor reports on every tick)."""
    events = []
    for table in LAKE_TABLES:
        seen = observe_table(lake, table)
        events.append(
            AssetObservation(
                asset_key=lake_asset_key(table),
                metadata=observation_metadata(lake, seen),
                tags={DATA_VERSION_TAG: seen.data_version},
            )
        )
    return events


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
