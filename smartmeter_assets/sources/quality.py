"""Quality rules for the staged sources, as pure functions of a frame (the asset checks wrap them).

Each returns a list of human-readable problems (empty = passed) plus figures worth showing, so a
failed check in the Dagster UI says what is wrong and where.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Range:
    column: str
    low: float
    high: float


@dataclass(frozen=True)
class Verdict:
    problems: list[str]
    figures: dict[str, float | int | str]

    @property
    def passed(self) -> bool:
        return not self.problems


def schema_verdict(frame: pd.DataFrame, expected: tuple[str, ...]) -> Verdict:
    found = tuple(frame.columns)
    problems = []
    if found != expected:
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        problems.append(f"columns differ from the contract: missing {missing}, unexpected {extra}")
    return Verdict(problems, {"columns": len(found)})


def unique_key_verdict(frame: pd.DataFrame, key: list[str]) -> Verdict:
    duplicated = frame.duplicated(subset=key, keep=False)
    n = int(duplicated.sum())
    problems = []
    if n:
        sample = frame.loc[duplicated, key].head(3).to_dict("records")
        problems.append(f"{n} rows share a key {key}; e.g. {sample}")
    return Verdict(problems, {"duplicate_rows": n, "rows": len(frame)})


def range_verdict(frame: pd.DataFrame, ranges: tuple[Range, ...]) -> Verdict:
    problems = []
    figures: dict[str, float | int | str] = {}
    for rule in ranges:
        values = pd.to_numeric(frame[rule.column], errors="coerce").dropna()
        outside = values[(values < rule.low) | (values > rule.high)]
        figures[f"{rule.column}_min"] = float(values.min()) if len(values) else float("nan")
        figures[f"{rule.column}_max"] = float(values.max()) if len(values) else float("nan")
        if len(outside):
            bounds = f"[{rule.low}, {rule.high}]"
            problems.append(f"{len(outside)} {rule.column} values outside {bounds}, e.g. {outside.head(3).tolist()}")
    return Verdict(problems, figures)


def null_rate_verdict(frame: pd.DataFrame, max_rates: dict[str, float]) -> Verdict:
    problems = []
    figures: dict[str, float | int | str] = {}
    for column, limit in max_rates.items():
        rate = float(frame[column].isna().mean()) if len(frame) else 0.0
        figures[f"{column}_null_rate"] = round(rate, 5)
        if rate > limit:
            problems.append(f"{column} is null in {rate:.2%} of rows (limit {limit:.2%})")
    return Verdict(problems, figures)
