"""``neuralpipe index create | delete``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from processors.settings import Settings


@click.group()
def index() -> None:
    """Indices on the cluster in use."""


@index.command()
@click.argument("name")
@click.option(
    "--mapping", "mapping_path", required=True, type=click.Path(path_type=Path),
    help="Index body file, e.g. mappings/combined.json.",
)  # fmt: skip
@click.pass_obj
def create(settings: Settings, name: str, mapping_path: Path) -> None:
    """Create index NAME from a mapping file (the body of PUT /NAME)."""
    from processors.opensearch.client import make_client
    from processors.opensearch.indices import create_index, load_mapping

    body = load_mapping(mapping_path)
    result = create_index(make_client(settings), name, body, embedded=settings.uses_embedded_node)
    click.echo(json.dumps(result))


@index.command()
@click.argument("name")
@click.pass_obj
def delete(settings: Settings, name: str) -> None:
    """Delete index NAME (one exact name; wildcards are refused)."""
    from processors.opensearch.client import make_client
    from processors.opensearch.indices import delete_index

    click.echo(json.dumps(delete_index(make_client(settings), name)))


@index.command()
@click.argument("name")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, allow_dash=True))
@click.option("--pipeline", "pipeline_path", type=click.Path(path_type=Path),
              help="Ingest pipeline file (pipelines/ingest/<id>.yaml).")  # fmt: skip
@click.option("--batch-size", type=int, default=64, show_default=True, help="Documents per batch.")
@click.option(
    "--dead-letter", type=click.Path(path_type=Path), help="JSONL file for failed documents."
)
@click.pass_obj
def bulk(
    settings: Settings, name: str, files: tuple[Path, ...], pipeline_path: Path | None,
    batch_size: int, dead_letter: Path | None,
) -> None:  # fmt: skip
    """Index FILES (JSONL or CSV, .gz ok, - for stdin) into NAME through a pipeline."""
    from processors.models.binding import encoder_resolver
    from processors.opensearch.bulk import BulkIndexer
    from processors.opensearch.client import make_client
    from processors.opensearch.sources import read_documents

    client = make_client(settings)
    pipeline = None
    if pipeline_path is not None:
        from processors.config.ingest_body import load_ingest_pipeline
        from processors.pipeline.ingest import IngestPipeline

        spec = load_ingest_pipeline(pipeline_path)
        pipeline = IngestPipeline(spec, encoders=encoder_resolver(settings), client=client)
    indexer = BulkIndexer(client, name, pipeline, batch_size=batch_size, dead_letter=dead_letter)
    report = indexer.index(read_documents(list(files)))
    client.indices.refresh(index=name)
    click.echo(json.dumps(report.as_dict()))
    if report.failed:
        where = f"; see {dead_letter}" if dead_letter else ""
        raise click.ClickException(f"{report.failed} document(s) failed{where}")
