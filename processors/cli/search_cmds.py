"""``neuralpipe search``: one search through a search pipeline, the response as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from processors.settings import Settings

DEFAULT_FIELDS = {"match": "text", "neural": "text_embedding", "neural_sparse": "text_sparse"}


@click.command()
@click.option(
    "--index", required=True, help="Index (or pattern, or comma-separated list) to search."
)
@click.option(
    "--pipeline",
    "pipeline_name",
    help="Search pipeline: an id (pipelines/search/<id>.yaml) or a file.",
)
@click.option("--query-text", help="Build the query from this text (see --query-type).")
@click.option(
    "--body",
    "body_path",
    type=click.Path(path_type=Path, allow_dash=True),
    help="Search body file (JSON or YAML, - for stdin), as for POST /<index>/_search.",
)
@click.option(
    "--query-type",
    type=click.Choice(list(DEFAULT_FIELDS)),
    default="match",
    show_default=True,
    help="Clause built from --query-text.",
)
@click.option(
    "--field", help="Field for --query-text (default: text, text_embedding, text_sparse)."
)
@click.option("--model-id", help="model_id of a neural/neural_sparse --query-text clause.")
@click.option("--size", type=int, default=10, show_default=True, help="Hits for --query-text.")
@click.option(
    "--show-request", is_flag=True, help="Print the request the node would get; no search."
)
@click.pass_obj
def search(
    settings: Settings,
    index: str,
    pipeline_name: str | None,
    query_text: str | None,
    body_path: Path | None,
    query_type: str,
    field: str | None,
    model_id: str | None,
    size: int,
    show_request: bool,
) -> None:
    """Search INDEX: neural/neural_sparse rewritten, pipeline processors applied."""
    from processors.models.binding import encoder_resolver
    from processors.pipeline.search import SearchPipeline

    if (query_text is None) == (body_path is None):
        raise click.UsageError("give exactly one of --query-text and --body")
    body = (
        _read_body(body_path)
        if body_path is not None
        else query_body(query_text or "", query_type, field, model_id, size)
    )
    spec = _spec(settings, pipeline_name) if pipeline_name else None
    models = encoder_resolver(settings)
    if show_request:
        rewritten = SearchPipeline(spec, models=models, client=None).rewrite(body)
        click.echo(json.dumps(rewritten))
        return
    from processors.opensearch.client import make_client

    pipeline = SearchPipeline(spec, models=models, client=make_client(settings))
    click.echo(json.dumps(pipeline.search(index, body)))


def query_body(
    text: str, query_type: str, field: str | None, model_id: str | None, size: int
) -> dict[str, Any]:
    """The search body ``--query-text`` stands for."""
    name = field or DEFAULT_FIELDS[query_type]
    if query_type == "match":
        return {"size": size, "query": {"match": {name: text}}}
    params: dict[str, Any] = {"query_text": text}
    if model_id:
        params["model_id"] = model_id
    if query_type == "neural":
        params["k"] = size
    return {"size": size, "query": {query_type: {name: params}}}


def _spec(settings: Settings, name: str) -> Any:
    from processors.config.search_body import find_search_pipeline, load_search_pipeline

    return load_search_pipeline(find_search_pipeline(settings.pipelines_dir, name))


def _read_body(path: Path) -> dict[str, Any]:
    from processors.config.ingest_body import read_body
    from processors.errors import ConfigError

    if str(path) == "-":
        import yaml

        body = yaml.safe_load(sys.stdin.read())
    else:
        body = read_body(path)
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: a search body must be an object")
    return body
