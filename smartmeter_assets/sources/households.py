"""``informations_households.csv``: one row per household (meter), with tariff and ACORN."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from smartmeter_assets.contracts import (
    ACORN_CATEGORIES,
    HOUSEHOLD_COLUMNS,
    HOUSEHOLDS_FILE,
    STAGED_HOUSEHOLD_COLUMNS,
    UNKNOWN_ACORN_CATEGORY,
    SourceRejectReason,
)
from smartmeter_assets.sources.source_read import (
    SourceRead,
    duplicate_key_rejects,
    make_rejects,
    raw_lines,
    read_csv_text,
)


def read_households(data_dir: Path) -> SourceRead:
    """Households with the category normalised: ``ACORN-U`` and ``ACORN-`` become Unknown."""
    path = data_dir / HOUSEHOLDS_FILE
    csv_text = read_csv_text(path, HOUSEHOLD_COLUMNS)
    text = csv_text.frame
    rows_read = csv_text.rows_read

    missing = text["LCLid"].eq("")
    rejects = [
        csv_text.rejects,
        make_rejects(
            path.name,
            text.loc[missing, "__line"],
            SourceRejectReason.MISSING_FIELD.value,
            raw_lines(text[missing], HOUSEHOLD_COLUMNS),
        ),
    ]
    kept, duplicates = duplicate_key_rejects(path, text[~missing], ["LCLid"], HOUSEHOLD_COLUMNS)
    rejects.append(duplicates)

    grouped = kept["Acorn_grouped"]
    frame = pd.DataFrame(
        {
            "meter_id": kept["LCLid"],
            "tariff_type": kept["stdorToU"].replace("", None),
            "acorn_group": kept["Acorn"].replace("", None),
            "acorn_category": grouped.where(grouped.isin(ACORN_CATEGORIES), UNKNOWN_ACORN_CATEGORY),
            "block": kept["file"].str.removesuffix(".csv").replace("", None),
        }
    )[list(STAGED_HOUSEHOLD_COLUMNS)]
    frame = frame.sort_values("meter_id", kind="stable").reset_index(drop=True)
    return SourceRead(
        source_file=path.name,
        frame=frame,
        rows_read=rows_read,
        rejects=pd.concat(rejects, ignore_index=True),
    )
