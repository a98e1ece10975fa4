"""Readers for the Kaggle "Smart Meters in London" files, unchanged, quirks included."""
