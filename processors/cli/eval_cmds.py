"""``neuralpipe eval``: a BEIR dataset through the full path, scored per way, table and chart.

The path is the product's own: the corpus is indexed through a YAML ingest pipeline with the
bulk indexer (index created from ``--mapping`` when missing), each query is searched through a
search pipeline on the node, and the hits are scored by trec_eval (``pytrec_eval``). The table
goes to stdout (``--json`` for JSON), progress and notes to stderr.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from processors.errors import ConfigError, FingerprintMismatchError
from processors.evaluation.runner import WAYS
from processors.settings import Settings

if TYPE_CHECKING:
    from processors.config.search_body import SearchPipelineSpec
    from processors.evaluation.beir import BeirDataset
    from processors.evaluation.runner import WayRun


@click.command("eval")
@click.option(
    "--dataset",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A BEIR dataset directory, or a Cranfield one (converted on the fly).",
)
@click.option("--index", required=True, help="Index holding the corpus (created when missing).")
@click.option(
    "--ingest-pipeline",
    "ingest_ref",
    help="Ingest pipeline: an id in pipelines/ingest/ or a file. "
    "Default: the index's index.default_pipeline.",
)
@click.option(
    "--way",
    "ways",
    multiple=True,
    type=click.Choice(WAYS),
    help="A way to query (repeatable). Default: every way the pipeline's fields allow.",
)
@click.option(
    "--search-pipeline",
    "search_ref",
    help="Search pipeline (id or file) for bm25, neural and neural_sparse.",
)
@click.option(
    "--hybrid-pipeline",
    "hybrid_ref",
    default="hybrid-minmax",
    show_default=True,
    help="Search pipeline for the hybrid way (a normalization or score-ranker one).",
)
@click.option(
    "--mapping",
    type=click.Path(path_type=Path),
    default=Path("mappings/combined.json"),
    show_default=True,
    help="Index body used when the index is (re)created.",
)
@click.option(
    "--reindex/--no-reindex",
    default=False,
    show_default=True,
    help="Delete and recreate the index first. Without it an existing index is "
    "reused (same pipeline fingerprint) and only missing or changed documents "
    "are indexed.",
)
@click.option("--split", default="test", show_default=True, help="Qrels file: qrels/<split>.tsv.")
@click.option(
    "--depth",
    type=click.IntRange(min=10),
    default=100,
    show_default=True,
    help="Hits per query (also k of neural).",
)
@click.option(
    "--join-title/--no-join-title",
    default=False,
    show_default=True,
    help="Index text as title + ' ' + text (Cranfield's text already starts with its title).",
)
@click.option("--dense-model", help="model_id of neural queries (default: the pipeline's).")
@click.option("--sparse-model", help="model_id of neural_sparse queries (default: the pipeline's).")
@click.option(
    "--truncation",
    type=click.Choice(["warn", "fail", "silent"]),
    default="warn",
    show_default=True,
    help="Texts over the model limit: warn|fail|silent",
)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a PNG bar chart comparing the ways.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table.")
@click.option("--progress/--no-progress", default=True, help="Progress bars on stderr.")
@click.pass_obj
def eval_cmd(
    settings: Settings,
    dataset: Path,
    index: str,
    ingest_ref: str | None,
    ways: tuple[str, ...],
    search_ref: str | None,
    hybrid_ref: str,
    mapping: Path,
    reindex: bool,
    split: str,
    depth: int,
    join_title: bool,
    dense_model: str | None,
    sparse_model: str | None,
    truncation: str,
    chart: Path | None,
    as_json: bool,
    progress: bool,
) -> None:
    """Score ways of searching an index on a BEIR dataset: nDCG@10, recall@100, MRR@10."""
    from dataclasses import replace

    from processors.cli.bulk_cmd import resolve_pipeline_path
    from processors.config.ingest_body import load_ingest_pipeline
    from processors.evaluation.runner import QueryFields
    from processors.models.binding import model_store
    from processors.opensearch.client import make_client
    from processors.opensearch.indices import default_pipeline_of

    client = make_client(settings)
    store = model_store(settings, truncation=truncation)
    ref = ingest_ref or default_pipeline_of(client, index)
    if ref is None:
        raise click.UsageError(f"give --ingest-pipeline (index {index!r} has no default pipeline)")
    spec = load_ingest_pipeline(resolve_pipeline_path(settings, ref))
    fields = QueryFields.from_pipeline(spec)
    fields = replace(
        fields,
        dense_model=dense_model or fields.dense_model,
        sparse_model=sparse_model or fields.sparse_model,
    )
    chosen = ways or fields.available_ways()
    fields.check(chosen)
    pipelines = _search_specs(settings, search_ref, hybrid_ref if "hybrid" in chosen else None)
    if depth < 100:
        click.echo(f"note: --depth {depth} < 100, so recall@100 counts only {depth} hits", err=True)

    with tempfile.TemporaryDirectory(prefix="neuralpipe-eval-") as work:
        data = _dataset(dataset, split, Path(work))
        corpus = data.corpus_path
        if join_title:
            from processors.evaluation.runner import joined_corpus

            corpus = joined_corpus(data, Path(work) / "corpus-joined.jsonl")
        report = _index(
            settings, client, store, index, corpus, spec, mapping, reindex, truncation, progress
        )
    used = {fields.dense_model if {"neural", "hybrid"} & set(chosen) else None,
            fields.sparse_model if "neural_sparse" in chosen else None}  # fmt: skip
    for model_id in sorted(m for m in used if m):
        store.get(model_id)  # loaded before the ways are timed
    runs = _search(client, store, index, data.queries, chosen, fields, pipelines, depth, progress)

    from processors.evaluation.metrics import evaluate

    scores = {run.way: evaluate(data.qrels, run.ranking) for run in runs}
    title = f"{dataset.name} ({split}): {len(data.queries)} queries, index {index}, {ref}"
    if chart is not None:
        from processors.evaluation.chart import write_chart

        write_chart(scores, chart, title=title)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "dataset": str(dataset),
                    "split": split,
                    "index": index,
                    "ingest_pipeline": ref,
                    "queries": len(data.queries),
                    "indexing": report,
                    "ways": {
                        r.way: {**scores[r.way], "ms_per_query": round(r.ms_per_query, 2)}
                        for r in runs
                    },
                    "chart": str(chart) if chart else None,
                }
            )
        )
    else:
        click.echo(f"{title}\n{format_table(scores, runs)}")
        if chart is not None:
            click.echo(f"chart: {chart}", err=True)


def format_table(scores: dict[str, dict[str, float]], runs: list[WayRun]) -> str:
    """The results as an aligned text table (one row per way)."""
    from processors.evaluation.metrics import MEASURES

    header = f"{'way':<15}" + "".join(f"{m:>12}" for m in MEASURES) + f"{'ms/query':>10}"
    rows = [
        f"{r.way:<15}"
        + "".join(f"{scores[r.way][m]:>12.4f}" for m in MEASURES)
        + f"{r.ms_per_query:>10.1f}"
        for r in runs
    ]
    return "\n".join([header, *rows])


def _search_specs(
    settings: Settings, search_ref: str | None, hybrid_ref: str | None
) -> dict[str, SearchPipelineSpec | None]:
    from processors.config.search_body import find_search_pipeline, load_search_pipeline

    def load(name: str) -> SearchPipelineSpec:
        return load_search_pipeline(find_search_pipeline(settings.pipelines_dir, name))

    specs: dict[str, SearchPipelineSpec | None] = {
        "plain": load(search_ref) if search_ref else None
    }
    if hybrid_ref is not None:
        hybrid = load(hybrid_ref)
        if not hybrid.phase_results:
            raise ConfigError(
                f"--hybrid-pipeline {hybrid_ref}: the hybrid way needs a normalization-processor "
                "or score-ranker-processor in phase_results_processors"
            )
        specs["hybrid"] = hybrid
    return specs


def _dataset(path: Path, split: str, work: Path) -> BeirDataset:
    from processors.evaluation.beir import load_beir
    from processors.evaluation.cranfield import convert_cranfield, is_cranfield_dir

    if not is_cranfield_dir(path):
        return load_beir(path, split)
    if split != "test":
        raise ConfigError(f"{path}: the Cranfield collection has one split, test")
    click.echo(f"{path}: Cranfield collection, converted to BEIR format", err=True)
    return convert_cranfield(path, work / "beir")


def _index(
    settings: Settings,
    client: Any,
    store: Any,
    index: str,
    corpus: Path,
    spec: Any,
    mapping: Path,
    reindex: bool,
    truncation: str,
    progress: bool,
) -> dict[str, Any]:
    from processors.evaluation.runner import index_corpus
    from processors.indexing.fingerprint import pipeline_fingerprint
    from processors.opensearch.indices import load_mapping
    from processors.pipeline.ingest import IngestPipeline

    creating = reindex or not client.indices.exists(index=index)
    body = load_mapping(mapping) if creating else None
    pipeline = IngestPipeline(spec, encoders=store.get, client=client)
    fingerprint = pipeline_fingerprint(spec, describe=store.registration, truncation=truncation)
    bar = _bar(None, "index", progress)
    try:
        report = index_corpus(
            client,
            index,
            corpus,
            pipeline=pipeline,
            fingerprint=fingerprint,
            mapping=body,
            reindex=reindex,
            embedded=settings.uses_embedded_node,
            on_batch=(lambda r: bar.update(r.settled - bar.n)) if bar is not None else None,
        )
    except FingerprintMismatchError as exc:
        reason = str(exc).split(". Write to a new index")[0]
        raise FingerprintMismatchError(
            f"{reason}. Give --reindex to rebuild it with this pipeline, or another --index."
        ) from None
    finally:
        if bar is not None:
            bar.close()
    click.echo(
        f"index {index}: {report.ok} indexed, {report.unchanged} unchanged, "
        f"{report.failed} failed ({report.seconds['total']:.1f} s)",
        err=True,
    )
    if report.failed:
        raise click.ClickException(
            f"{report.failed} document(s) failed to index: {report.first_errors[:3]}"
        )
    held = int(client.count(index=index)["count"])
    if held > report.settled:
        click.echo(
            f"note: {index} holds {held} documents, the corpus {report.settled}; "
            "the others take part in the ranking (--reindex to start clean)",
            err=True,
        )
    result: dict[str, Any] = report.as_dict()
    return result


def _search(
    client: Any,
    store: Any,
    index: str,
    queries: dict[str, str],
    ways: tuple[str, ...],
    fields: Any,
    specs: dict[str, Any],
    depth: int,
    progress: bool,
) -> list[WayRun]:
    from processors.evaluation.runner import run_way
    from processors.pipeline.search import SearchPipeline

    runs = []
    for way in ways:
        spec = specs["hybrid" if way == "hybrid" else "plain"]
        pipeline = SearchPipeline(spec, models=store.get, client=client)
        bar = _bar(len(queries), way, progress)
        tick = (lambda b=bar: b.update(1)) if bar is not None else None
        try:
            runs.append(run_way(pipeline, index, queries, way, fields, depth=depth, on_query=tick))
        finally:
            if bar is not None:
                bar.close()
    return runs


def _bar(total: int | None, label: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=label,
        unit="doc" if label == "index" else "query",
        dynamic_ncols=True,
        leave=False,
    )
