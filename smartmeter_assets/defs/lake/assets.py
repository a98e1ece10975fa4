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
from smartmeter_assets.lake.observation import TableObservation, observe_table
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
        **(
            {LAST_UPDATED_METADATA: MetadataValue.timestamp(seen.newest_file_time)}
            if seen.newest_file_time is not None
            else {}
        ),
    }


def observation_events(
    lake: Lake, extra: Mapping[AssetKey, Mapping[str, object]] | None = None
) -> list[AssetObservation]:
    """The four tables as AssetObservations (what the stream sensor reports on every tick).

    ``extra`` adds metadata to a table's observation (the sensor's lag on ``lake_raw``) rather
    than as an observation of its own: Dagster judges an observed asset by its LATEST observation
    only, so every one must carry the data version (the reports' refresh compares it) and the
    last update time (the freshness check reads it).
    """
    events = []
    for table in LAKE_TABLES:
        key = lake_asset_key(table)
        seen = observe_table(lake, table)
        events.append(
            AssetObservation(
                asset_key=key,
                metadata={**observation_metadata(lake, seen), **(extra or {}).get(key, {})},
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
