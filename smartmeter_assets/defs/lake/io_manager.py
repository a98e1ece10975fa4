"""An IO manager that keeps asset outputs as Parquet in the lake (local folder or S3), not pickles.

Why Parquet in the lake: the staged sources are data users query (DuckDB, pandas, Spark) and the
production stack's run containers share no disk, only the bucket. One file per asset, or one per
partition for partitioned assets: ``<lake>/sources/<asset>[/<partition>].parquet``.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from dagster import ConfigurableIOManager, InputContext, OutputContext

from smartmeter_assets.contracts import SOURCES_DIR
from smartmeter_assets.lake.storage import Lake


def frame_path(lake: Lake, asset: str, partition: str | None = None) -> str:
    return lake.path(SOURCES_DIR, f"{asset}/{partition}.parquet" if partition else f"{asset}.parquet")


def write_frame(lake: Lake, frame: pd.DataFrame | pa.Table, asset: str, partition: str | None = None) -> str:
    fs, _ = lake.filesystem()
    path = frame_path(lake, asset, partition)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, filesystem=fs)
    return path


def read_stored_table(lake: Lake, asset: str, partition: str | None = None) -> pa.Table:
    """A stored asset as Arrow; a clear error when it was never materialized."""
    fs, _ = lake.filesystem()
    path = frame_path(lake, asset, partition)
    try:
        return pq.read_table(path, filesystem=fs)
    except FileNotFoundError:
        what = f"{asset} partition {partition}" if partition else asset
        raise FileNotFoundError(f"{what} is not in the lake at {path}: materialize it first") from None


def read_frame(lake: Lake, asset: str, partition: str | None = None) -> pd.DataFrame:
    """A stored asset as pandas; a clear error when it was never materialized."""
    return read_stored_table(lake, asset, partition).to_pandas()


class LakeParquetIOManager(ConfigurableIOManager):
    """pandas DataFrames or Arrow tables <-> Parquet under the lake root (inputs annotated ``pa.Table``
    load as Arrow, the others as pandas)."""

    url: str
    allow_http: bool = False  # plain http to a non-loopback S3 endpoint

    def _key(self, context: OutputContext | InputContext) -> tuple[str, str | None]:
        asset = "/".join(context.asset_key.path)
        partition = context.asset_partition_key if context.has_asset_partitions else None
        return asset, partition

    def handle_output(self, context: OutputContext, obj: pd.DataFrame | pa.Table | None) -> None:
        if obj is None:
            return
        if not isinstance(obj, pd.DataFrame | pa.Table):
            raise TypeError(
                f"{context.asset_key.to_user_string()}: expected a pandas DataFrame or an Arrow table, got {type(obj)}"
            )
        asset, partition = self._key(context)
        path = write_frame(Lake(self.url, self.allow_http), obj, asset, partition)
        context.add_output_metadata({"lake_path": path, "rows": len(obj)})

    def load_input(self, context: InputContext) -> pd.DataFrame | pa.Table:
        """pandas, or Arrow for an input annotated ``pa.Table`` (no round trip through pandas)."""
        asset, partition = self._key(context)
        if context.dagster_type.typing_type is pa.Table:
            return read_stored_table(Lake(self.url, self.allow_http), asset, partition)
        return read_frame(Lake(self.url, self.allow_http), asset, partition)
