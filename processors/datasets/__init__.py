"""Readers of evaluation collections shipped beside the project (Cranfield)."""
