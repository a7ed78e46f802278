"""Bulk indexing stages: records, token-budget batches, per-batch preparation, checkpoints, the runner."""
