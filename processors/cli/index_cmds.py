"""``neuralpipe index create | delete``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from processors.cli.bulk_cmd import bulk
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


index.add_command(bulk)
