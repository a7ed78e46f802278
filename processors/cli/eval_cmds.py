"""``neuralpipe eval``: a BEIR dataset through the full path, scored per way, table and chart.

The path is the product's own: the corpus is indexed through a YAML ingest pipeline with the
bulk indexer (index created from ``--mapping`` when missing), each query is searched through a
search pipeline on the node, and the hits are scored by trec_eval (``pytrec_eval``). Each way
is compared with a baseline way by a paired test per measure; ``--runs`` writes each way's TREC
run file. The table goes to stdout (``--json`` for JSON), progress and notes to stderr.

BEIR documents have a ``title``: it is joined in front of the text by default (as BEIR and the
models' published numbers do); Cranfield's text already begins with its title, so it is not.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from processors.errors import ConfigError, FingerprintMismatchError
from processors.evaluation.runner import WAYS
from processors.evaluation.significance import TESTS
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
    default="combined",
    show_default=True,
    help="Index body used when the index is (re)created: a file, or a shipped mapping by name "
    "(combined, dense, sparse; combined-english, dense-english, sparse-english: English "
    "analyzer, for English collections).",
)
@click.option("--bm25-k1", type=float, help="BM25 k1 of a (re)created index (default: mapping's).")
@click.option("--bm25-b", type=float, help="BM25 b of a (re)created index (default: mapping's).")
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
    default=None,
    help="Index text as title + ' ' + text. Default: on for BEIR (as its published numbers), "
    "off for Cranfield (its text already starts with the title).",
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
@click.option(
    "--runs",
    "runs_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one TREC run file per way here (<way>.run) and run.json (the settings).",
)
@click.option(
    "--baseline",
    type=click.Choice(WAYS),
    help="Way the others are tested against (default: the first way).",
)
@click.option(
    "--significance",
    "test",
    type=click.Choice(TESTS),
    default="randomization",
    show_default=True,
    help="Paired test per measure vs --baseline (two-sided; † marks p < 0.05).",
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
    mapping: str,
    bm25_k1: float | None,
    bm25_b: float | None,
    reindex: bool,
    split: str,
    depth: int,
    join_title: bool | None,
    dense_model: str | None,
    sparse_model: str | None,
    truncation: str,
    chart: Path | None,
    runs_dir: Path | None,
    baseline: str | None,
    test: str,
    as_json: bool,
    progress: bool,
) -> None:
    """Score ways of searching an index on a BEIR dataset: nDCG@10, recall@100, MRR@10."""
    from dataclasses import replace

    from processors.cli.bulk_cmd import resolve_pipeline_path, store_truncation, truncation_note
    from processors.config.ingest_body import load_ingest_pipeline
    from processors.evaluation.runner import QueryFields
    from processors.models.binding import model_store
    from processors.opensearch.client import make_client
    from processors.opensearch.indices import default_pipeline_of, resolve_mapping

    mapping_path = resolve_mapping(mapping)
    client = make_client(settings)
    store = model_store(settings, truncation=store_truncation(truncation))
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
    baseline = baseline or chosen[0]
    if baseline not in chosen:
        raise click.UsageError(f"--baseline {baseline} is not among the ways {list(chosen)}")
    pipelines = _search_specs(settings, search_ref, hybrid_ref if "hybrid" in chosen else None)
    if depth < 100:
        click.echo(f"note: --depth {depth} < 100, so recall@100 counts only {depth} hits", err=True)

    with tempfile.TemporaryDirectory(prefix="neuralpipe-eval-") as work:
        data, cranfield = _dataset(dataset, split, Path(work))
        join_title = not cranfield if join_title is None else join_title
        corpus = data.corpus_path
        if join_title:
            from processors.evaluation.runner import joined_corpus

            corpus = joined_corpus(data, Path(work) / "corpus-joined.jsonl")
        body = _mapping_body(mapping_path, bm25_k1, bm25_b)
        report = _index(
            settings, client, store, index, corpus, spec, body, reindex, truncation,
            data.corpus_size() if progress else None,
        )  # fmt: skip
    note = truncation_note(int(report.get("truncated", 0)), truncation)
    if note:
        click.echo(note, err=True)
    used = {fields.dense_model if {"neural", "hybrid"} & set(chosen) else None,
            fields.sparse_model if "neural_sparse" in chosen else None}  # fmt: skip
    for model_id in sorted(m for m in used if m):
        store.get(model_id)  # loaded before the ways are timed
    runs = _search(client, store, index, data.queries, chosen, fields, pipelines, depth, progress)

    from processors.evaluation.metrics import MEASURES, per_query
    from processors.evaluation.significance import paired

    rows = {run.way: per_query(data.qrels, run.ranking) for run in runs}
    scores = {way: _means(values) for way, values in rows.items()}
    tests = {way: paired(rows[baseline], rows[way], list(MEASURES), test)
             for way in rows if way != baseline}  # fmt: skip
    settings_used = {
        "dataset": str(dataset),
        "split": split,
        "index": index,
        "ingest_pipeline": ref,
        "mapping": str(mapping_path),
        **(
            {"bm25": {"k1": bm25_k1, "b": bm25_b}}
            if bm25_k1 is not None or bm25_b is not None
            else {}
        ),
        "join_title": join_title,
        "depth": depth,
        "queries": len(data.queries),
    }
    title = (
        f"{dataset.name} ({split}): {len(data.queries)} queries, index {index}, {ref}, "
        f"title {'joined' if join_title else 'not joined'}"
    )
    run_files = _write_runs(runs_dir, runs, settings_used) if runs_dir is not None else {}
    if chart is not None:
        from processors.evaluation.chart import write_chart

        write_chart(scores, chart, title=title)
    if as_json:
        result = {
            **settings_used,
            "indexing": report,
            "ways": {
                r.way: {
                    **{m: round(v, 6) for m, v in scores[r.way].items()},
                    "ms_per_query": round(r.ms_per_query, 2),
                    **({"vs_baseline": tests[r.way]} if r.way in tests else {}),
                }
                for r in runs
            },
            "significance": {
                "baseline": baseline,
                "test": test,
                "alpha": ALPHA,
                "two_sided": True,
            },
            "per_query": {
                way: {
                    q: {m: round(v, 6) for m, v in values.items()} for q, values in by_query.items()
                }
                for way, by_query in rows.items()
            },
            "runs": {way: str(path) for way, path in run_files.items()},
            "chart": str(chart) if chart else None,
        }
        click.echo(json.dumps(result))
    else:
        click.echo(f"{title}\n{format_table(scores, runs, tests, baseline, test)}")
        for path in run_files.values():
            click.echo(f"run: {path}", err=True)
        if chart is not None:
            click.echo(f"chart: {chart}", err=True)


ALPHA = 0.05
"""p-values under this are marked with † in the table."""


def _means(rows: dict[str, dict[str, float]]) -> dict[str, float]:
    from processors.evaluation.metrics import MEASURES

    if not rows:
        return dict.fromkeys(MEASURES, 0.0)
    return {m: sum(r[m] for r in rows.values()) / len(rows) for m in MEASURES}


def _mapping_body(path: Path, k1: float | None, b: float | None) -> dict[str, Any]:
    from processors.opensearch.indices import load_mapping, with_bm25

    return with_bm25(load_mapping(path), k1=k1, b=b)


def _write_runs(folder: Path, runs: list[WayRun], settings_used: dict[str, Any]) -> dict[str, Path]:
    """``<folder>/<way>.run`` per way (TREC format) and ``run.json`` with the settings."""
    from processors.evaluation.trec import write_run

    files = {r.way: write_run(folder / f"{r.way}.run", r.ranking, tag=f"neuralpipe-{r.way}")
             for r in runs}  # fmt: skip
    (folder / "run.json").write_text(
        json.dumps({**settings_used, "runs": {w: p.name for w, p in files.items()}}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    return files


def format_table(
    scores: dict[str, dict[str, float]],
    runs: list[WayRun],
    tests: dict[str, dict[str, dict[str, float]]] | None = None,
    baseline: str | None = None,
    test: str = "randomization",
) -> str:
    """The results as an aligned text table: one row per way, each measure with the p-value of
    the paired test against ``baseline`` (``†``: p < 0.05)."""
    from processors.evaluation.metrics import MEASURES

    tests = tests or {}
    p_width = 8 if tests else 0
    header = (
        f"{'way':<15}"
        + "".join(f"{m:>12}" + (f"{'p':>8}" if tests else "") for m in MEASURES)
        + f"{'ms/query':>10}"
    )
    rows = []
    for r in runs:
        cells = ""
        for m in MEASURES:
            result = tests.get(r.way, {}).get(m)
            mark = "†" if result is not None and result["p"] < ALPHA else " "
            p = f"{result['p']:.4f}" if result is not None else "-"
            cells += f"{scores[r.way][m]:>11.4f}{mark}" + (f"{p:>{p_width}}" if tests else "")
        rows.append(f"{r.way:<15}{cells}{r.ms_per_query:>10.1f}")
    lines = [header, *rows]
    if tests and baseline:
        name = "randomization test (10,000 resamples)" if test == "randomization" else "t-test"
        lines.append(f"p: paired {name} vs {baseline}, two-sided; † p < {ALPHA}")
    return "\n".join(lines)


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


def _dataset(path: Path, split: str, work: Path) -> tuple[BeirDataset, bool]:
    """The dataset, and whether it is the Cranfield collection (converted)."""
    from processors.evaluation.beir import load_beir
    from processors.evaluation.cranfield import convert_cranfield, is_cranfield_dir

    if not is_cranfield_dir(path):
        return load_beir(path, split), False
    if split != "test":
        raise ConfigError(f"{path}: the Cranfield collection has one split, test")
    click.echo(f"{path}: Cranfield collection, converted to BEIR format", err=True)
    return convert_cranfield(path, work / "beir"), True


def _index(
    settings: Settings,
    client: Any,
    store: Any,
    index: str,
    corpus: Path,
    spec: Any,
    body: dict[str, Any],
    reindex: bool,
    truncation: str,
    total: int | None,
) -> dict[str, Any]:
    """Index the corpus (``total``: documents, for the progress bar; None: no bar)."""
    from processors.cli.bulk_cmd import ProgressBar
    from processors.evaluation.runner import index_corpus
    from processors.indexing.fingerprint import pipeline_fingerprint
    from processors.opensearch.client import targets_embedded_node
    from processors.pipeline.ingest import IngestPipeline

    pipeline = IngestPipeline(spec, encoders=store.get, client=client)
    fingerprint = pipeline_fingerprint(spec, describe=store.registration, truncation=truncation)
    bar = ProgressBar(total, desc="index") if total is not None else None
    try:
        report = index_corpus(
            client,
            index,
            corpus,
            pipeline=pipeline,
            fingerprint=fingerprint,
            mapping=body,
            reindex=reindex,
            embedded=targets_embedded_node(settings),
            on_batch=bar.update if bar is not None else None,
            token_stats=store.token_stats,
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
        f"{report.failed} failed, {report.tokens} tokens, {report.truncated} truncated "
        f"({report.seconds['total']:.1f} s)",
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

    return tqdm(total=total, desc=label, unit="query", dynamic_ncols=True, leave=True)
