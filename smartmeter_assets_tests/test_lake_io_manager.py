"""The lake's IO manager through Dagster's real ``materialize``: pandas by default, Arrow when asked."""

from pathlib import Path

import pandas as pd
import pyarrow as pa
from dagster import AssetIn, asset, materialize

from smartmeter_assets.defs.lake.io_manager import LakeParquetIOManager, frame_path
from smartmeter_assets.lake.storage import Lake

seen: dict[str, type] = {}


@asset
def day_rows() -> pd.DataFrame:
    return pd.DataFrame({"meter_id": ["MAC000002", None], "energy_kwh": [0.219, float("nan")]})


@asset(ins={"day_rows": AssetIn("day_rows")})
def as_frame(day_rows: pd.DataFrame) -> None:
    seen["frame"] = type(day_rows)


@asset(ins={"day_rows": AssetIn("day_rows")})
def as_arrow(day_rows: pa.Table) -> None:
    seen["arrow"] = type(day_rows)
    assert day_rows.column("meter_id").to_pylist() == ["MAC000002", None]
    assert day_rows.column("energy_kwh").null_count == 1  # pandas' NaN was stored as null


def test_an_input_annotated_arrow_loads_as_arrow_and_others_as_pandas(tmp_path: Path) -> None:
    lake_url = str(tmp_path / "lake")
    result = materialize([day_rows, as_frame, as_arrow], resources={"io_manager": LakeParquetIOManager(url=lake_url)})
    assert result.success
    assert seen == {"frame": pd.DataFrame, "arrow": pa.Table}
    assert Path(frame_path(Lake(lake_url), "day_rows")).is_file()


@asset
def day_table() -> pa.Table:
    return pa.table({"meter_id": ["MAC000002", None], "energy_kwh": [0.219, None]})


@asset(ins={"day_table": AssetIn("day_table")})
def table_as_frame(day_table: pd.DataFrame) -> None:
    seen["table as frame"] = type(day_table)
    assert day_table["meter_id"].tolist() == ["MAC000002", None]
    assert day_table["energy_kwh"].isna().tolist() == [False, True]


def test_an_arrow_output_is_stored_as_it_is_and_loads_as_pandas_too(tmp_path: Path) -> None:
    result = materialize(
        [day_table, table_as_frame], resources={"io_manager": LakeParquetIOManager(url=str(tmp_path / "lake"))}
    )
    assert result.success
    assert seen["table as frame"] is pd.DataFrame
