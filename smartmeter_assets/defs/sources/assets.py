"""The four source assets: thin wrappers around the readers that add metadata and persist output."""

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import (
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    Output,
    TableColumn,
    TableSchema,
    asset,
)

from smartmeter_assets.contracts import SOURCES_DIR
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.defs.sources.resources import SourceFilesResource
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.sources.households import read_households
from smartmeter_assets.sources.readings import block_files
from smartmeter_assets.sources.source_read import SourceFileError, SourceRead
from smartmeter_assets.sources.staging import REJECTS_DIR, stage_block
from smartmeter_assets.sources.weather import read_weather_daily, read_weather_hourly

GROUP = "sources"
PREVIEW_ROWS = 10
#: Staging logs a progress line at most this often (and for the first and last block). Every log
#: line is an event Dagster stores with a commit of its own: one per block was 112 of a 14-day
#: run's 965 events, at ~9 ms of the run's own CPU each on the SQLite event log.
PROGRESS_EVERY_SECONDS = 2.0


def column_schema(frame: pd.DataFrame) -> TableSchema:
    return TableSchema(columns=[TableColumn(str(name), str(dtype)) for name, dtype in frame.dtypes.items()])


def preview(frame: pd.DataFrame) -> MetadataValue:
    return MetadataValue.md(frame.head(PREVIEW_ROWS).to_markdown(index=False))


def keep_rejects(lake: Lake, asset: str, read: SourceRead) -> str | None:
    """Write the rejected rows beside the staged sources: a dead letter users can open."""
    if not len(read.rejects):
        return None
    fs, _ = lake.filesystem()
    folder = lake.path(SOURCES_DIR, REJECTS_DIR)
    fs.create_dir(folder, recursive=True)
    path = f"{folder}/{asset}.parquet"
    pq.write_table(pa.Table.from_pandas(read.rejects, preserve_index=False), path, filesystem=fs)
    return path


def source_metadata(read: SourceRead, span_column: str) -> dict[str, object]:
    span = read.frame[span_column].dropna()
    return {
        "dagster/row_count": len(read.frame),
        "dagster/column_schema": column_schema(read.frame),
        "source_file": read.source_file,
        "rows_read": read.rows_read,
        "rejected_rows": len(read.rejects),
        "rejects_by_reason": MetadataValue.json(read.rejects_by_reason()),
        "duplicates_dropped": read.duplicates_dropped,
        "first": str(span.min()) if len(span) else "",
        "last": str(span.max()) if len(span) else "",
        "preview": preview(read.frame),
    }


def _frame_asset(
    context: AssetExecutionContext,
    name: str,
    reader: Callable[[Path], SourceRead],
    span_column: str,
    sources: SourceFilesResource,
    lake: LakeResource,
) -> Output[pd.DataFrame]:
    read = reader(sources.path())
    if not read.accounted():
        raise RuntimeError(f"{read.source_file}: rows read do not add up to kept + rejected + duplicates")
    rejects_path = keep_rejects(lake.lake(), name, read)
    context.log.info(
        f"{read.source_file}: {read.rows_read} rows read, {len(read.frame)} kept, "
        f"rejected {read.rejects_by_reason() or 'none'}"
    )
    metadata = source_metadata(read, span_column)
    if rejects_path:
        metadata["rejects_path"] = rejects_path
    return Output(read.frame, metadata=metadata)


@asset(group_name=GROUP, kinds={"pandas", "parquet"})
def households(
    context: AssetExecutionContext, sources: SourceFilesResource, lake: LakeResource
) -> Output[pd.DataFrame]:
    """Households (meters) with tariff and ACORN group/category, from informations_households.csv."""
    return _frame_asset(context, "households", read_households, "meter_id", sources, lake)


@asset(group_name=GROUP, kinds={"pandas", "parquet"})
def weather_hourly(
    context: AssetExecutionContext, sources: SourceFilesResource, lake: LakeResource
) -> Output[pd.DataFrame]:
    """Hourly DarkSky weather (UTC), sorted by time, from weather_hourly_darksky.csv."""
    return _frame_asset(context, "weather_hourly", read_weather_hourly, "time", sources, lake)


@asset(group_name=GROUP, kinds={"pandas", "parquet"})
def weather_daily(
    context: AssetExecutionContext, sources: SourceFilesResource, lake: LakeResource
) -> Output[pd.DataFrame]:
    """Daily DarkSky weather keyed by London-local day (its cloud cover feeds the message)."""
    return _frame_asset(context, "weather_daily", read_weather_daily, "day", sources, lake)


@asset(group_name=GROUP, kinds={"pyarrow", "parquet"})
def readings(context: AssetExecutionContext, sources: SourceFilesResource, lake: LakeResource) -> MaterializeResult:
    """Half-hourly readings of every block, staged as Parquet partitioned by reading date.

    Unchanged blocks (same size and mtime as when last staged) are skipped, so re-materializing
    after adding a block only reads the new one; totals still cover every block.
    """
    blocks = block_files(sources.path())
    if not blocks:
        raise SourceFileError(
            f"no reading blocks under {sources.path()} (expected halfhourly_dataset/block_N.csv "
            "or halfhourly_dataset_block_N.csv)"
        )
    started = time.perf_counter()
    rejects: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    first: list[str] = []
    last: list[str] = []
    per_block = []
    logged_at = 0.0
    for number, path in enumerate(blocks, start=1):
        manifest, staged = stage_block(lake.lake(), path)
        rejects.update(manifest.rejects)
        totals.update(
            rows_read=manifest.rows_read,
            rows_staged=manifest.rows_staged,
            duplicates_dropped=manifest.duplicates_dropped,
            meters=manifest.meters,
            blocks_staged=int(staged),
            blocks_skipped=int(not staged),
        )
        first += [manifest.first_timestamp] if manifest.first_timestamp else []
        last += [manifest.last_timestamp] if manifest.last_timestamp else []
        per_block.append(
            {"block": manifest.block, "rows": manifest.rows_staged, "rejects": sum(manifest.rejects.values())}
        )
        elapsed = time.perf_counter() - started
        if number in (1, len(blocks)) or elapsed - logged_at >= PROGRESS_EVERY_SECONDS:
            logged_at = elapsed
            context.log.info(
                f"[{number}/{len(blocks)}] {manifest.block}: {manifest.rows_staged:,} readings "
                f"{'staged' if staged else 'unchanged, skipped'} in {manifest.seconds:.2f}s; "
                f"total {totals['rows_read']:,} rows at {totals['rows_read'] / max(elapsed, 1e-9):,.0f} rows/s"
            )
    accounted = totals["rows_staged"] + sum(rejects.values()) + totals["duplicates_dropped"]
    if accounted != totals["rows_read"]:
        raise RuntimeError(f"readings do not add up: {totals['rows_read']} read, {accounted} accounted for")
    seconds = time.perf_counter() - started
    return MaterializeResult(
        metadata={
            "dagster/row_count": totals["rows_staged"],
            "rows_read": totals["rows_read"],
            "rejected_rows": sum(rejects.values()),
            "rejects_by_reason": MetadataValue.json(dict(rejects)),
            "duplicates_dropped": totals["duplicates_dropped"],
            "meters": totals["meters"],
            "blocks": len(blocks),
            "blocks_staged": totals["blocks_staged"],
            "blocks_skipped": totals["blocks_skipped"],
            "first": min(first) if first else "",
            "last": max(last) if last else "",
            "seconds": round(seconds, 2),
            "rows_per_second": round(totals["rows_read"] / max(seconds, 1e-9)),
            "staged_at": lake.lake().url(SOURCES_DIR, "readings"),
            "per_block": MetadataValue.md(pd.DataFrame(per_block).to_markdown(index=False)),
        }
    )


SOURCE_ASSETS = [households, weather_hourly, weather_daily, readings]
