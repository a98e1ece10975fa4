"""What the utility learns from the lake: reports, anomaly quality and a demand forecast.

Pure functions only (DuckDB over the lake's Arrow datasets, matplotlib figures, scikit-learn);
the Dagster wrappers live in :mod:`smartmeter_assets.defs.reports`.
"""
