"""``neuralpipe index create | delete``."""

from __future__ import annotations

import json

import click

from processors.cli.bulk_cmd import bulk
from processors.settings import Settings


@click.group()
def index() -> None:
    """Indices on the cluster in use."""


@index.command()
@click.argument("name")
@click.option(
    "--mapping", "mapping_path", required=True,
    help="Index body file, or a shipped mapping by name: combined, dense, sparse, "
    "combined-english, dense-english, sparse-english.",
)  # fmt: skip
@click.option("--bm25-k1", type=float, help="BM25 k1 of the default similarity.")
@click.option("--bm25-b", type=float, help="BM25 b of the default similarity.")
@click.pass_obj
def create(
    settings: Settings, name: str, mapping_path: str, bm25_k1: float | None, bm25_b: float | None
) -> None:
    """Create index NAME from a mapping file (the body of PUT /NAME)."""
    from processors.config.index_translation import node_index_body
    from processors.errors import ConfigError
    from processors.models.binding import model_store
    from processors.opensearch.client import make_client, targets_embedded_node
    from processors.opensearch.indices import create_index, load_mapping, resolve_mapping, with_bm25
    from processors.semantic.fields import SemanticMappingError
    from processors.semantic.ingest import registration_doc

    body = with_bm25(load_mapping(resolve_mapping(mapping_path)), k1=bm25_k1, b=bm25_b)
    store = model_store(settings)
    try:  # the translation the proxy makes on PUT /<index> (semantic, sparse_vector, ...)
        body = node_index_body(
            body,
            lambda m: registration_doc(store.registration(m)),
            embedded=targets_embedded_node(settings),
            name=name,
        )
    except SemanticMappingError as exc:
        raise ConfigError(f"{mapping_path}: {exc}") from exc
    result = create_index(make_client(settings), name, body, embedded=False)
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
