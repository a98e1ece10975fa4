"""The Kaggle CSV sources as Dagster assets, with their checks."""
