"""``neuralpipe index bulk --ray``: the CLI's glue to :mod:`processors.indexing.ray_datasink`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from processors.config.ingest_body import IngestPipelineSpec
from processors.errors import ConfigError
from processors.indexing.runner import IndexingOptions, IndexReport
from processors.settings import Settings


def ray_bulk(
    settings: Settings,
    index: str,
    files: list[Path],
    *,
    spec: IngestPipelineSpec | None,
    fingerprint: dict[str, Any],
    options: IndexingOptions,
    address: str | None,
    actors: int,
    gpus_per_actor: float,
    cpus_per_actor: float,
    id_field: str | None,
    skip_unchanged: bool,
    resume: bool,
    force: bool,
    truncation: str,
    dead_letter: Path | None,
    device: str = "cpu",
    progress: bool = False,
) -> IndexReport:
    """Run the bulk ingest on Ray with the CLI's options; the report of the run."""
    try:
        from processors.indexing.ray_datasink import run_ray_ingest
    except ImportError as exc:
        raise ConfigError(f"--ray needs Ray Data (pip install 'neuralpipe[ray]'): {exc}") from None
    from processors.indexing.ray_ingest import RayIngestJob, RayResources

    if actors < 1:
        raise ConfigError(f"--actors must be at least 1, not {actors}")
    from processors.opensearch.client import resolve_url

    # the workers get the resolved URL: they cannot look for this machine's embedded node
    wired = settings.model_copy(update={"opensearch_url": resolve_url(settings)})
    job = RayIngestJob(
        index=index,
        settings=wired.model_dump(mode="json"),
        pipeline=(spec.pipeline_id, spec.body) if spec is not None else None,
        options=options,
        id_field=id_field,
        skip_unchanged=skip_unchanged,
        resume=resume,
        truncation=truncation,
        threads=max(1, int(cpus_per_actor)),
        device=device,
    )
    resources = RayResources(
        actors=actors, cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor
    )
    return run_ray_ingest(job, files, resources=resources, address=address, force=force,
                          dead_letter=dead_letter, fingerprint=fingerprint,
                          progress=progress)  # fmt: skip
