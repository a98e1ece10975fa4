"""The sample generator writes the Kaggle format, deterministically, with a truthful ground truth."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from smartmeter_assets.cli import main
from smartmeter_assets.contracts import (
    ANOMALY_RULES,
    GROUND_TRUTH_FILE,
    HOUSEHOLD_COLUMNS,
    HOUSEHOLDS_FILE,
    READING_COLUMNS,
    RULE_FOR_INJECTED,
    WEATHER_DAILY_COLUMNS,
    WEATHER_DAILY_FILE,
    WEATHER_HOURLY_COLUMNS,
    WEATHER_HOURLY_FILE,
    InjectedAnomaly,
    anomaly_reasons,
)
from smartmeter_assets.sample_data.generator import SampleSpec, generate
from smartmeter_assets.sample_data.row_by_row import generate_row_by_row
from smartmeter_assets.settings import Settings
from smartmeter_assets.sources.readings import block_files, read_block

SMALL = SampleSpec(households=16, days=21)


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(out, SMALL)
    return out


def digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(folder.rglob("*.csv")):
        sha.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return sha.hexdigest()


def test_same_seed_same_bytes(small_sample: Path, tmp_path: Path) -> None:
    generate(tmp_path, SMALL)
    assert digest(tmp_path) == digest(small_sample)


def test_headers_are_the_kaggle_headers(small_sample: Path) -> None:
    def header(path: Path) -> tuple[str, ...]:
        return tuple(path.read_text().splitlines()[0].split(","))

    assert header(small_sample / HOUSEHOLDS_FILE) == HOUSEHOLD_COLUMNS
    assert header(small_sample / WEATHER_HOURLY_FILE) == WEATHER_HOURLY_COLUMNS
    assert header(small_sample / WEATHER_DAILY_FILE) == WEATHER_DAILY_COLUMNS
    for block in block_files(small_sample):
        assert header(block) == READING_COLUMNS


def test_the_real_quirks_are_present(small_sample: Path) -> None:
    text = "".join(p.read_text() for p in block_files(small_sample))
    assert ".0000000," in text and ",Null\n" in text
    assert ", 0." in text  # energy padded with spaces
    households = pd.read_csv(small_sample / HOUSEHOLDS_FILE)
    assert {"ACORN-U", "ACORN-"} <= set(households["Acorn"])
    hourly = pd.read_csv(small_sample / WEATHER_HOURLY_FILE)
    assert not hourly["time"].is_monotonic_increasing  # not in time order, like the real file
    assert hourly["pressure"].isna().any()
    reads = [read_block(p) for p in block_files(small_sample)]
    assert sum(r.duplicates_dropped for r in reads) > 0
    stamps = pd.concat([r.frame["timestamp"] for r in reads])
    assert (stamps.dt.second != 0).any()  # off-grid stamps


def test_ground_truth_matches_the_readings_and_the_rules(small_sample: Path) -> None:
    truth = pd.read_csv(small_sample / GROUND_TRUTH_FILE)
    assert set(truth["kind"]) == {k.value for k in InjectedAnomaly} - {"scaled_down", "zeroed_window"}  # inject's
    readings = pd.concat(read_block(p).frame for p in block_files(small_sample))
    readings["timestamp"] = readings["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S")
    joined = readings.merge(truth, on=["meter_id", "timestamp"], how="left")
    assert joined["kind"].notna().sum() == len(truth)  # every injected half-hour was written

    thresholds = {rule.threshold_setting: getattr(Settings(), rule.threshold_setting) for rule in ANOMALY_RULES}
    stamp = pd.to_datetime(joined["timestamp"])
    reasons = [
        anomaly_reasons(e, h, d, thresholds)
        for e, h, d in zip(joined["energy_kwh"], stamp.dt.hour, (stamp.dt.dayofweek + 1) % 7 + 1, strict=True)
    ]
    flagged = pd.Series([bool(r) for r in reasons], index=joined.index)
    # normal load stays under every rule; each rule-detectable injected kind breaks its rule
    assert not flagged[joined["kind"].isna()].any()
    for kind, rule in RULE_FOR_INJECTED.items():
        rows = joined["kind"] == kind.value
        if rule is None:
            assert not flagged[rows].any()
        else:
            assert all(rule.value in reasons[i] for i in joined.index[rows])


def test_check_data_reports_the_sample_and_fails_on_a_missing_file(
    small_sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-data", "--data-dir", str(small_sample), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "informations_households.csv" in out and "rows           16" in out
    assert "energy_null=" in out and "readings (2 blocks)" in out

    assert main(["check-data", "--data-dir", str(tmp_path), "--quiet"]) == 2
    assert "informations_households.csv" in capsys.readouterr().err


def test_the_committed_sample_is_what_the_generator_makes(tmp_path: Path) -> None:
    committed = Path(__file__).resolve().parent.parent / "data" / "sample"
    generate(tmp_path)
    assert digest(tmp_path) == digest(committed)


@pytest.mark.parametrize(
    "spec",
    [
        SampleSpec(households=2, days=3),  # the smallest sample: fewer than 3 meters get an off-grid stamp
        SampleSpec(households=37, days=9, start=date(2013, 3, 27), seed=5),  # over the spring clock change
        SampleSpec(households=41, days=30, start=date(2012, 10, 20), seed=99, households_per_block=5),
        SampleSpec(households=60, days=15, households_per_block=50, suffix_share=0.0),
    ],
    ids=str,
)
def test_vectorised_generator_writes_the_row_by_row_bytes(spec: SampleSpec, tmp_path: Path) -> None:
    fast = generate(tmp_path / "vectorised", spec)
    slow = generate_row_by_row(tmp_path / "row_by_row", spec)
    assert fast == slow
    assert digest(tmp_path / "vectorised") == digest(tmp_path / "row_by_row")


def test_sample_command_writes_blocks_of_the_asked_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sample"
    args = ["sample", "--households", "9", "--days", "4", "--households-per-block", "4", "--out", str(out)]
    assert main([*args, "--quiet"]) == 0
    blocks = block_files(out)
    assert [p.name for p in blocks] == ["block_0.csv", "block_1.csv", "block_2.csv"]
    rows = sum(len(p.read_text().splitlines()) - 1 for p in blocks)
    assert f"reading_rows: {rows:,}" in capsys.readouterr().out
    households = pd.read_csv(out / HOUSEHOLDS_FILE)
    assert households.groupby("file").size().to_dict() == {"block_0": 4, "block_1": 4, "block_2": 1}

    assert main([*args[:-4], "--households-per-block", "0", "--out", str(out)]) == 2
    assert "at least 1 household" in capsys.readouterr().err


@pytest.mark.parametrize(("households", "blocks", "largest"), [(5566, 112, 50), (150, 3, 50), (149, 19, 8), (24, 3, 8)])
def test_a_default_sample_has_the_real_files_layout_once_it_fills_three_blocks(
    households: int, blocks: int, largest: int, tmp_path: Path
) -> None:
    """A full-scale sample has the real 112 blocks of 50 (696 blocks of 8 made a 14-day run 20% slower)."""
    out = tmp_path / "sample"
    assert main(["sample", "--households", str(households), "--days", "3", "--quiet", "--out", str(out)]) == 0
    assert len(block_files(out)) == blocks
    assert pd.read_csv(out / HOUSEHOLDS_FILE).groupby("file").size().max() == largest
