"""Ingest processors neuralpipe runs itself (the rest of a pipeline runs on the node)."""
