"""Bulk indexing stages: records and token-budget batches, per-batch preparation, the runner,
checkpoints and index fingerprints."""
