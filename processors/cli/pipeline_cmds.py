"""``neuralpipe pipeline validate | show | simulate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from processors.settings import Settings


@click.group()
def pipeline() -> None:
    """Pipeline files: bodies of PUT _ingest/pipeline/<id> and PUT _search/pipeline/<id>."""


@pipeline.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--mapping", "mapping_path", type=click.Path(path_type=Path),
              help="Index body (e.g. mappings/combined.json): check each ingest pipeline's "
                   "target fields and vector dimensions against it.")  # fmt: skip
@click.pass_obj
def validate(settings: Settings, paths: tuple[Path, ...], mapping_path: Path | None) -> None:
    """Check pipeline files (ingest, or search under a search/ folder); every error with its
    path; exit 2 if any is invalid."""
    from processors.errors import ConfigError, CrossReferenceError

    failures: list[ConfigError] = []
    for path in paths:
        try:
            steps = _steps(path)
            if mapping_path is not None and not _is_search(path):
                _cross_check(settings, path, mapping_path)
        except ConfigError as exc:
            failures.append(exc)
            continue
        ours = sum(not step.runs_on_node for step in steps)
        against = f"; matches {mapping_path}" if mapping_path and not _is_search(path) else ""
        click.echo(
            f"{path}: ok ({ours} neuralpipe, {len(steps) - ours} node processors{against})",
            err=True,
        )
    if failures:
        crossed = all(isinstance(f, CrossReferenceError) for f in failures)
        raise (CrossReferenceError if crossed else ConfigError)("\n".join(map(str, failures)))


def _cross_check(settings: Settings, path: Path, mapping_path: Path) -> None:
    from processors.config.cross_checks import check_against_mapping, registrations_in

    check_against_mapping(path, mapping_path, registrations_in(settings.pipelines_dir / "models"))


@pipeline.command()
@click.argument("pipeline_ref", metavar="PIPELINE")
@click.option("--doc", "inline_docs", multiple=True,
              help="A document as JSON: {\"_index\", \"_id\", \"_source\"} or a bare source "
                   "(repeatable).")  # fmt: skip
@click.option("--docs", "docs_path", type=click.Path(path_type=Path, allow_dash=True),
              help="Documents: JSONL, a JSON array, or a _simulate body {\"docs\": [...]} "
                   "(- for stdin).")  # fmt: skip
@click.option("-v", "--verbose", is_flag=True,
              help="Per-processor results, as _simulate?verbose=true.")  # fmt: skip
@click.pass_obj
def simulate(settings: Settings, pipeline_ref: str, inline_docs: tuple[str, ...],
             docs_path: Path | None, verbose: bool) -> None:  # fmt: skip
    """Run PIPELINE (a file, or an id in pipelines/ingest/) over documents and print what
    POST _ingest/pipeline/<id>/_simulate answers; core processors run on the node."""
    from processors.cli.bulk_cmd import resolve_pipeline_path
    from processors.config.ingest_body import load_ingest_pipeline
    from processors.errors import ConfigError
    from processors.models.binding import model_store
    from processors.pipeline.simulate import parse_docs, read_docs
    from processors.pipeline.simulate import simulate as run_simulation

    if not inline_docs and docs_path is None:
        raise click.UsageError("give documents with --doc JSON or --docs FILE")
    docs: list[dict[str, Any]] = []
    for number, text in enumerate(inline_docs):
        try:
            docs.extend(parse_docs(json.loads(text), f"--doc[{number}]"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--doc[{number}]: not valid JSON: {exc}") from None
    if docs_path is not None:
        docs.extend(read_docs(docs_path))
    spec = load_ingest_pipeline(resolve_pipeline_path(settings, pipeline_ref))
    client = None
    if any(step.runs_on_node or step.type_name == "text_chunking" for step in spec.steps):
        from processors.opensearch.client import make_client

        client = make_client(settings)
    store = model_store(settings)
    answer = run_simulation(spec, docs, encoders=store.get, client=client, verbose=verbose)
    click.echo(json.dumps(answer, indent=2))


@pipeline.command()
@click.argument("path", type=click.Path(path_type=Path))
def show(path: Path) -> None:
    """Print a validated pipeline body as JSON (what OpenSearch would receive)."""
    click.echo(json.dumps(_load(path).body, indent=2))


def _is_search(path: Path) -> bool:
    return path.resolve().parent.name == "search"


def _load(path: Path) -> Any:
    if _is_search(path):
        from processors.config.search_body import load_search_pipeline

        return load_search_pipeline(path)
    from processors.config.ingest_body import load_ingest_pipeline

    return load_ingest_pipeline(path)


def _steps(path: Path) -> list[Any]:
    spec = _load(path)
    if _is_search(path):
        return [*spec.request, *spec.response, *spec.phase_results]
    return list(spec.steps)
