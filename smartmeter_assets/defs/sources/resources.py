"""Where the Kaggle-format CSV files are."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from smartmeter_assets.settings import Settings


class SourceFilesResource(ConfigurableResource):
    """The data folder holding informations_households.csv, the weather files and the blocks."""

    data_dir: str

    @classmethod
    def from_settings(cls, settings: Settings) -> SourceFilesResource:
        return cls(data_dir=str(settings.data_dir.resolve()))

    def path(self) -> Path:
        return Path(self.data_dir)
