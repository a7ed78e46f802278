"""``neuralpipe search``: a search through a search pipeline, the response as JSON; or many
queries in one process (``--queries FILE``: the models load once), written as a TREC run."""

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
    "--queries",
    "queries_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Many queries, one search each, in one process: a BEIR queries.jsonl "
    '({"_id", "text"} per line) or a TSV (query-id<TAB>text). Each becomes the body '
    "--query-text would give.",
)
@click.option(
    "--run",
    "run_path",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    help="With --queries: write the hits as a TREC run file (- for stdout). "
    "Without it, one JSON line per query ({query_id, hits}) on stdout.",
)
@click.option("--run-tag", default="neuralpipe", show_default=True, help="Tag column of --run.")
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
    queries_path: Path | None,
    run_path: Path | None,
    run_tag: str,
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

    given = [x for x in (query_text, body_path, queries_path) if x is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --query-text, --body and --queries")
    if run_path is not None and queries_path is None:
        raise click.UsageError("--run needs --queries")
    if queries_path is not None:
        _search_many(settings, index, pipeline_name, queries_path, run_path, run_tag,
                     query_type, field, model_id, size)  # fmt: skip
        return
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


def _search_many(
    settings: Settings, index: str, pipeline_name: str | None, queries_path: Path,
    run_path: Path | None, run_tag: str, query_type: str, field: str | None,
    model_id: str | None, size: int,
) -> None:  # fmt: skip
    """One search per query of ``queries_path``; a TREC run (``run_path``) or JSON lines."""
    from processors.evaluation.trec import write_run, write_run_lines
    from processors.models.binding import encoder_resolver
    from processors.opensearch.client import make_client
    from processors.pipeline.search import SearchPipeline

    queries = read_queries_file(queries_path)
    spec = _spec(settings, pipeline_name) if pipeline_name else None
    pipeline = SearchPipeline(spec, models=encoder_resolver(settings), client=make_client(settings))
    ranking: dict[str, list[str]] = {}
    from tqdm import tqdm

    for query_id, text in tqdm(queries.items(), total=len(queries), unit="query",
                               disable=run_path is None, leave=True):  # fmt: skip
        body = query_body(text, query_type, field, model_id, size)
        hits = pipeline.search(index, body)["hits"]["hits"]
        if run_path is None:
            click.echo(json.dumps({"query_id": query_id, "hits": [
                {"_id": h["_id"], "_score": h.get("_score")} for h in hits]}))  # fmt: skip
        ranking[query_id] = [str(h["_id"]) for h in hits]
    if run_path is not None and str(run_path) == "-":
        write_run_lines(sys.stdout, ranking, tag=run_tag)
    elif run_path is not None:
        write_run(run_path, ranking, tag=run_tag)
        click.echo(f"{len(ranking)} queries, run: {run_path}", err=True)


def read_queries_file(path: Path) -> dict[str, str]:
    """``{query id: text}`` from a BEIR ``queries.jsonl`` or a ``query-id<TAB>text`` TSV."""
    from processors.errors import ConfigError
    from processors.evaluation.beir import read_queries

    if path.suffix in (".jsonl", ".gz"):
        return read_queries(path)
    queries: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split("\t", 1)
            if len(parts) != 2 or not parts[0] or not parts[1].strip():
                raise ConfigError(f"{path}:{number}: expected query-id<TAB>text, got {line!r}")
            queries[parts[0]] = parts[1]
    if not queries:
        raise ConfigError(f"{path}: no queries")
    return queries


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
