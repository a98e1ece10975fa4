"""The block files (``halfhourly_dataset/block_N.csv``) written from the reading grid, one block at a time.

Why not ``DataFrame.to_csv``: formatting millions of timestamps and floats one row at a time was
most of the row-by-row generator's time. Here every text comes from a small table (one id per
household, one stamp per half-hour, one energy text per watt-hour value) and Arrow's string kernels
join them per row in C++; a block is built, written and dropped, so memory holds one block
whatever the span. Row order is the reference's: blocks by name, meters by id, stamps in time
order, a duplicate right after its original.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from smartmeter_assets.contracts import READING_COLUMNS
from smartmeter_assets.sample_data.readings import (
    NULL_WH,
    SLOT_SECONDS,
    ReadingGrid,
    off_grid_stamps,
    slot_stamps,
)
from smartmeter_assets.sample_data.spec import SampleSpec

#: The suffix real blocks carry on some files' timestamps.
STAMP_SUFFIX = ".0000000"

#: Called after each block with (rows written so far, rows to write).
Progress = Callable[[int, int], None]


def _energy_texts(grid: ReadingGrid) -> tuple[pa.Array, int, int]:
    """Energy cell texts (value padded with spaces, as the real files), the Null code, the first off-grid code."""
    top = max(int(grid.watt_hours.max()), 0)
    texts = [f" {wh / 1000:g} \n" for wh in range(top + 1)] + ["Null\n"]
    texts += [f"{text}\n" for text in grid.off_grid.energy_text]
    return pa.array(texts, pa.string()), top + 1, top + 2


def write_blocks(
    folder: Path, spec: SampleSpec, households: pd.DataFrame, grid: ReadingGrid, progress: Progress | None = None
) -> int:
    """Write every household's readings into its block file under ``folder``; returns the rows written."""
    width = spec.slots
    ids = households["LCLid"].to_numpy(dtype=object)
    by_block = pd.DataFrame({"file": households["file"].to_numpy(), "id": ids, "household": np.arange(len(ids))})
    by_block = by_block.sort_values(["file", "id"], kind="stable")  # block_0, block_1, block_10, ... as a sort does
    position = np.empty(len(ids), dtype=np.int64)
    position[by_block["household"].to_numpy()] = np.arange(len(ids))
    blocks = [(name, rows["household"].to_numpy()) for name, rows in by_block.groupby("file", sort=True)]

    id_text = pa.array([f"{meter}," for meter in ids], pa.string())
    stamps = [*slot_stamps(spec), *off_grid_stamps(spec, grid.off_grid)]
    stamp_text = {suffix: pa.array([f"{s}{suffix}," for s in stamps], pa.string()) for suffix in ("", STAMP_SUFFIX)}
    energy_text, null_code, first_off_grid_code = _energy_texts(grid)
    off_grid = grid.off_grid
    duplicate_household, duplicate_slot = np.divmod(grid.duplicates, width)
    header = (",".join(READING_COLUMNS) + "\n").encode()
    with_suffix = round(spec.suffix_share * len(blocks))
    total, done = grid.rows, 0

    for number, (name, members) in enumerate(blocks):
        member_row, slot = np.nonzero(grid.written[members])
        household = members[member_row]
        seconds = slot * SLOT_SECONDS
        stamp = slot
        code = grid.watt_hours[household, slot].astype(np.int64)
        off = np.flatnonzero(np.isin(off_grid.households, members))
        dup = np.flatnonzero(np.isin(duplicate_household, members))
        if len(off) or len(dup):  # rows off the grid's order: append, then sort (stable: originals first)
            household = np.concatenate([household, off_grid.households[off], duplicate_household[dup]])
            seconds = np.concatenate([seconds, off_grid.seconds[off], duplicate_slot[dup] * SLOT_SECONDS])
            stamp = np.concatenate([stamp, width + off, duplicate_slot[dup]])
            dup_code = grid.watt_hours[duplicate_household[dup], duplicate_slot[dup]].astype(np.int64)
            code = np.concatenate([code, first_off_grid_code + off, dup_code])
            order = np.lexsort((seconds, position[household]))
            household, stamp, code = household[order], stamp[order], code[order]
        code[code == NULL_WH] = null_code
        suffix = STAMP_SUFFIX if number < with_suffix else ""
        lines = pc.binary_join_element_wise(
            id_text.take(household), stamp_text[suffix].take(stamp), energy_text.take(code), ""
        )
        with (folder / f"{name}.csv").open("wb") as out:
            out.write(header)
            _, offsets, text = lines.buffers()
            out.write(text[: int(np.frombuffer(offsets, dtype=np.int32)[len(lines)])])
        done += len(lines)
        if progress is not None:
            progress(done, total)
    return done
