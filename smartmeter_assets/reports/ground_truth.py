"""The sample generator's list of injected anomalies, read for scoring and for nothing else.

No detector may import this module: a detector that saw the answers would score itself. The file
has one row per anomalous half-hour (a flat line spans many rows).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from smartmeter_assets.contracts import GROUND_TRUTH_COLUMNS, GROUND_TRUTH_FILE, TIMESTAMP_FORMAT, InjectedAnomaly


class GroundTruthError(ValueError):
    """The ground-truth file is missing or not in the generator's format."""


def ground_truth_path(data_dir: Path) -> Path:
    return Path(data_dir) / GROUND_TRUTH_FILE


def read_ground_truth(data_dir: Path) -> pd.DataFrame:
    """``meter_id, timestamp (datetime64), kind`` with every row checked; bad rows are an error."""
    path = ground_truth_path(data_dir)
    if not path.is_file():
        raise GroundTruthError(
            f"{path} does not exist: anomaly quality can only be measured on data with injected "
            "anomalies (the generated sample), not on real files."
        )
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if tuple(frame.columns) != GROUND_TRUTH_COLUMNS:
        raise GroundTruthError(f"{path}: columns {list(frame.columns)}, expected {list(GROUND_TRUTH_COLUMNS)}")
    kinds = {k.value for k in InjectedAnomaly}
    bad_kind = frame.loc[~frame["kind"].isin(kinds)]
    if not bad_kind.empty:
        raise GroundTruthError(f"{path}: unknown kind(s) {sorted(bad_kind['kind'].unique())} (known: {sorted(kinds)})")
    timestamps = pd.to_datetime(frame["timestamp"], format=TIMESTAMP_FORMAT, errors="coerce")
    if timestamps.isna().any():
        line = int(timestamps.isna().to_numpy().nonzero()[0][0]) + 2  # +1 header, +1 one-based
        raise GroundTruthError(
            f"{path}:{line}: timestamp {frame['timestamp'].iloc[line - 2]!r} is not {TIMESTAMP_FORMAT}"
        )
    if (frame["meter_id"] == "").any():
        raise GroundTruthError(f"{path}: a row has no meter_id")
    return pd.DataFrame({"meter_id": frame["meter_id"], "timestamp": timestamps, "kind": frame["kind"]})
