"""The lake: where staged sources, Delta tables, checkpoints and reports live (local or S3)."""
