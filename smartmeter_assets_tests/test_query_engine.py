"""DuckDB's memory bound comes from Settings, and past it a query spills into a folder of its own."""

from __future__ import annotations

import gc
import tempfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.lake import query_engine
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings

#: Four million rows (~64 MB) held in a table, then sorted: well past a 16 MB bound.
HELD_ROWS = "CREATE TEMP TABLE held AS SELECT i, (i * 7919) % 4000000 AS r FROM range(4000000) t(i)"
SORTED_CHECK = """
    SELECT count(*), sum(CASE WHEN position = r THEN 1 ELSE 0 END)
    FROM (SELECT r, row_number() OVER (ORDER BY r) - 1 AS position FROM held)
"""


def _setting(connection: object, name: str) -> str:
    return connection.execute(f"SELECT current_setting('{name}')").fetchone()[0]  # type: ignore[attr-defined]


def test_the_bound_set_in_the_environment_reaches_every_lake_query(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMARTMETER_QUERY_MEMORY_LIMIT", "512MB")
    settings = Settings(home=tmp_path)

    for lake in (Lake.from_settings(settings), LakeResource.from_settings(settings).lake()):
        assert lake.query_memory_limit == "512MB"
        with query_engine.connect(lake.query_memory_limit) as connection:
            assert _setting(connection, "memory_limit") == "488.2 MiB"  # DuckDB shows it in MiB


def test_the_default_bound_is_not_duckdbs_share_of_the_machine() -> None:
    with query_engine.connect() as connection:
        assert _setting(connection, "memory_limit") == "2.7 GiB"  # 3GB, not 80% of RAM


@pytest.mark.parametrize("value", ["lots", "3", "80%", "3 GBs"])
def test_a_bound_that_is_not_a_size_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ValidationError, match="SMARTMETER_QUERY_MEMORY_LIMIT"):
        Settings(query_memory_limit=value)


def test_a_query_past_the_bound_spills_into_its_own_folder_which_goes_with_the_connection() -> None:
    first, second = query_engine.connect("16MB"), query_engine.connect("16MB")
    folders = [Path(_setting(c, "temp_directory")) for c in (first, second)]
    assert folders[0] != folders[1]
    for folder in folders:
        assert folder.parent == Path(tempfile.gettempdir()) and folder.name.startswith(query_engine.SPILL_PREFIX)

    first.execute("SET threads TO 1")
    first.execute(HELD_ROWS)
    spilled = first.execute("SELECT path FROM duckdb_temporary_files()").fetchall()
    rows, in_place = first.execute(SORTED_CHECK).fetchone()  # type: ignore[misc]

    assert spilled, "the table fitted in 16 MB: the test no longer makes DuckDB spill"
    assert (rows, in_place) == (4_000_000, 4_000_000)  # 7919 is prime to 4M: r is a permutation
    assert all(Path(path).parent == folders[0] for (path,) in spilled)
    first.close()
    second.close()
    del first, second
    gc.collect()
    assert not any(folder.exists() for folder in folders)
