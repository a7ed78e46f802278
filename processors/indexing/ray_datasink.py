"""The Ray side of :mod:`processors.indexing.ray_ingest`: the OpenSearch datasink and the driver.

Importing this module imports Ray (the ``neuralpipe[ray]`` extra); the batch logic it runs
lives in :mod:`processors.indexing.ray_ingest`, which does not.

Example:
    >>> report = run_ray_ingest(job, [Path("docs.jsonl")], address="auto")  # doctest: +SKIP
    >>> report.ok  # doctest: +SKIP
    20000
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ray
from ray.data import Datasink
from ray.data.block import Block, BlockAccessor

from processors.errors import ConfigError
from processors.indexing.fingerprint import check_index_fingerprint
from processors.indexing.ray_ingest import (
    NOT_NICED,
    RayIngestJob,
    RayResources,
    WriteSummary,
    merge_summaries,
    prepare_dataset,
    write_rows,
)
from processors.indexing.ray_read import read_dataset
from processors.indexing.runner import DeadLetter, IndexReport


class OpenSearchDatasink(Datasink[WriteSummary]):
    """Writes prepared rows to the job's index: one :class:`WriteSummary` per write task.

    The summaries reach :meth:`on_write_complete` on the driver, which keeps them in
    :attr:`summaries` (counts for the report, failures for the dead-letter file).
    """

    def __init__(self, job: RayIngestJob) -> None:
        self.job = job
        self.summaries: list[WriteSummary] = []

    def get_name(self) -> str:
        return "OpenSearch"

    def write(self, blocks: Iterable[Block], ctx: Any) -> WriteSummary:
        from processors.opensearch.client import make_client

        client = make_client(self.job.make_settings())
        rows: list[dict[str, Any]] = []
        for block in blocks:
            rows.extend(BlockAccessor.for_block(block).iter_rows(public_row_format=False))
        return write_rows(client, self.job, rows)

    def on_write_complete(self, write_result: Any) -> None:
        returns = getattr(write_result, "write_returns", write_result)
        self.summaries = [r for r in returns if isinstance(r, WriteSummary)]


def connect(address: str | None, *, quiet: bool = True) -> None:
    """``ray.init`` once: ``address`` of a running cluster, or a local one when None."""
    if ray.is_initialized():
        return
    import logging

    ray.init(
        address=address,
        logging_level=logging.WARNING if quiet else logging.INFO,
        log_to_driver=not quiet,
        include_dashboard=False if address is None else None,
        configure_logging=True,
    )


def run_ray_ingest(
    job: RayIngestJob,
    paths: list[Path],
    *,
    resources: RayResources | None = None,
    address: str | None = None,
    dead_letter: Path | None = None,
    fingerprint: dict[str, Any],
    force: bool = False,
    dataset: Any = None,
    progress: bool = False,
) -> IndexReport:
    """Index ``paths`` (or a ready Ray ``dataset``) into ``job.index`` on a Ray cluster.

    Checks the index exists and its fingerprint matches (as the single process does), runs
    read → :class:`~processors.indexing.ray_ingest.PrepareDocuments` actors →
    :class:`OpenSearchDatasink`, writes the dead-letter file, refreshes, records the fingerprint.
    """
    from dataclasses import replace

    from processors.opensearch.client import make_client

    started = time.monotonic()
    resources = resources or RayResources()
    client = make_client(job.make_settings())
    if not client.indices.exists(index=job.index):
        raise ConfigError(
            f"index {job.index!r} does not exist: create it with its mapping first "
            f"(neuralpipe index create {job.index} --mapping FILE)"
        )
    found = check_index_fingerprint(client, job.index, fingerprint, force=force)
    job = replace(job, fingerprint=fingerprint["digest"], trust_present=found == "matched")
    report = IndexReport(fingerprint=fingerprint["digest"])
    connect(address)
    ray.data.DataContext.get_current().enable_progress_bars = progress
    if dataset is None:
        cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
        floor = 2 * max(resources.actors, cpus)
        dataset = read_dataset(paths, rows_per_block=resources.batch_rows, floor=floor)
    prepared = prepare_dataset(dataset, job, resources)
    sink = OpenSearchDatasink(job)
    # writes ask no CPU (I/O: a write waiting for a CPU the actors hold would stall the map);
    # a few at a time, so a handful of worker processes serve them all
    prepared.write_datasink(
        sink,
        ray_remote_args={"num_cpus": 0, "runtime_env": NOT_NICED},
        concurrency=max(2, resources.actors),
    )
    dead = DeadLetter(dead_letter)
    try:
        merge_summaries(report, sink.summaries, dead)
    finally:
        dead.close()
    refreshed = time.monotonic()
    client.indices.refresh(index=job.index)
    check_index_fingerprint(client, job.index, fingerprint, force=True)
    report.seconds["refresh"] = time.monotonic() - refreshed
    report.seconds["total"] = time.monotonic() - started
    return report
