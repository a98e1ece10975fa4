"""Where a report lands: a PNG plot and a JSON of its headline numbers under ``<lake>/reports/``.

Written through the lake's pyarrow filesystem so the same call serves a local folder and S3. The
``smartmeter report`` command reads the JSON files back, so it prints what Dagster computed rather
than recomputing (the profile detector and the backtest are too heavy to rerun on every print).
"""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from smartmeter_assets.contracts import REPORTS_DIR
from smartmeter_assets.lake.storage import Lake

PLOT_DPI = 100


@dataclass(frozen=True)
class ReportLocation:
    plot_url: str
    summary_url: str


def figure_png(figure: Figure) -> bytes:
    """Render with the Agg canvas directly: no pyplot global state, safe in any thread or process."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PLOT_DPI, bbox_inches="tight")
    return buffer.getvalue()


def markdown_image(png: bytes, title: str = "plot") -> str:
    """A PNG the Dagster UI shows inline in a Markdown metadata value."""
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def json_ready(value: Any) -> Any:
    """NaN/inf become null, numpy scalars become Python numbers: strict JSON, no surprises."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(lake: Lake, name: str, png: bytes, summary: dict[str, Any]) -> ReportLocation:
    """Write ``<name>.png`` and ``<name>.json`` under the lake's reports folder."""
    filesystem, _ = lake.filesystem()
    folder = lake.path(REPORTS_DIR)
    filesystem.create_dir(folder, recursive=True)
    with filesystem.open_output_stream(f"{folder}/{name}.png") as stream:
        stream.write(png)
    with filesystem.open_output_stream(f"{folder}/{name}.json") as stream:
        stream.write(json.dumps(json_ready(summary), indent=2, sort_keys=True).encode())
    return ReportLocation(lake.url(REPORTS_DIR, f"{name}.png"), lake.url(REPORTS_DIR, f"{name}.json"))


def read_summary(lake: Lake, name: str) -> dict[str, Any] | None:
    """A report's headline numbers, or None when it has not been materialized yet."""
    filesystem, _ = lake.filesystem()
    path = lake.path(REPORTS_DIR, f"{name}.json")
    if filesystem.get_file_info(path).type.name == "NotFound":
        return None
    with filesystem.open_input_stream(path) as stream:
        return json.loads(stream.read().decode())


def markdown_table(frame: pd.DataFrame, max_rows: int = 20, digits: int = 4) -> str:
    """A preview of a report table for the Dagster UI (first rows; the full table is in the asset)."""
    shown = frame.head(max_rows)

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:.{digits}g}"
        if isinstance(value, list | tuple):
            return ", ".join(map(str, value))
        return str(value)

    lines = [
        "| " + " | ".join(map(str, shown.columns)) + " |",
        "|" + "---|" * len(shown.columns),
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in shown.itertuples(index=False)),
    ]
    if len(frame) > max_rows:
        lines.append(f"\n_{len(frame) - max_rows} more rows_")
    return "\n".join(lines)
