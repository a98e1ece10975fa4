"""A generator of Kaggle-format sample data with known injected anomalies."""
