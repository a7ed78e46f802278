"""``neuralpipe index bulk``: files through an ingest pipeline into an index, with a progress bar.

The pipeline is ``--pipeline`` (a file, or an id under ``<pipelines_dir>/ingest``), else the
index's ``index.default_pipeline``, else none. The final report is one JSON line on stdout;
the progress bar (docs/s, tokens/s, ETA) goes to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from processors.errors import ConfigError
from processors.settings import Settings


def resolve_pipeline_path(settings: Settings, value: str) -> Path:
    """A pipeline file path, or ``<pipelines_dir>/ingest/<id>.yaml|.yml|.json`` for an id."""
    given = Path(value)
    if given.is_file():
        return given
    for ext in (".yaml", ".yml", ".json"):
        candidate = settings.pipelines_dir / "ingest" / f"{value}{ext}"
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"ingest pipeline {value!r}: no such file, and no {value}.yaml in "
        f"{settings.pipelines_dir / 'ingest'}"
    )


def _count_lines(files: tuple[Path, ...]) -> int | None:
    if any(str(f) == "-" or f.suffix == ".gz" for f in files):
        return None
    total = 0
    for path in files:
        with path.open("rb") as handle:
            total += sum(1 for line in handle if line.strip())
        if path.suffix == ".csv":
            total -= 1
    return total


INPUT_FILE = click.Path(path_type=Path, allow_dash=True, exists=True, dir_okay=False)


@click.command()
@click.argument("name")
@click.argument("files", nargs=-1, required=True, type=INPUT_FILE)
@click.option("--pipeline", "pipeline_ref",
              help="Ingest pipeline: a file, or an id in pipelines/ingest/. "
                   "Default: the index's index.default_pipeline.")  # fmt: skip
@click.option("--batch-size", type=int, default=500, show_default=True,
              help="Documents per bulk request (also split at 10 MB).")  # fmt: skip
@click.option("--token-budget", type=int, default=32768, show_default=True,
              help="Approximate tokens of text per pipeline batch.")  # fmt: skip
@click.option("--dead-letter", type=click.Path(path_type=Path),
              help="JSONL file for documents that failed, with the reason.")  # fmt: skip
@click.option("--checkpoint", type=click.Path(path_type=Path),
              help="Checkpoint file (default: under NEURALPIPE_HOME/checkpoints).")  # fmt: skip
@click.option("--resume", is_flag=True, help="Continue the interrupted run of the same inputs.")
@click.option("--id-field",
              help="Field whose value is the id of documents without _id "
                   "(default: a hash of the document's content).")  # fmt: skip
@click.option("--skip-unchanged", is_flag=True,
              help="Skip documents whose content hash equals the stored one.")  # fmt: skip
@click.option("--force", is_flag=True,
              help="Write even if the index's vectors were made another way.")  # fmt: skip
@click.option("--truncation", type=click.Choice(["warn", "fail", "silent"]), default="warn",
              show_default=True, help="Texts over the model limit: warn (count, reported once; "
              "details with -v) | fail | silent")  # fmt: skip
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@click.option(
    "--device",
    default="cpu",
    show_default=True,
    help="Where models run: cpu, cuda or cuda:N (CUDA needs onnxruntime-gpu or torch with "
    "CUDA; without a GPU they run on CPU, with a warning).",
)
@click.option(
    "--ray",
    "use_ray",
    is_flag=True,
    help="Run on a Ray cluster (Ray Data readers, model actors, an OpenSearch "
    "datasink); needs the ray extra. --resume then skips ids the index holds.",
)
@click.option("--ray-address",
              help="Address of a running Ray cluster (e.g. 10.0.0.5:6379 or auto); default: "
                   "RAY_ADDRESS, else a local Ray started for this run.")  # fmt: skip
@click.option(
    "--actors",
    type=int,
    default=2,
    show_default=True,
    help="With --ray: model actors (each loads the pipeline's models once).",
)
@click.option(
    "--num-gpus-per-actor",
    type=float,
    default=0.0,
    show_default=True,
    help="With --ray: GPUs each actor asks Ray for (0: CPU actors).",
)
@click.option(
    "--cpus-per-actor",
    type=float,
    default=1.0,
    show_default=True,
    help="With --ray: CPUs each actor asks Ray for (also its model's threads).",
)
@click.pass_obj
def bulk(settings: Settings, name: str, files: tuple[Path, ...], pipeline_ref: str | None,
         batch_size: int, token_budget: int, dead_letter: Path | None, checkpoint: Path | None,
         resume: bool, id_field: str | None, skip_unchanged: bool, force: bool,
         truncation: str, progress: bool, device: str, use_ray: bool,
         ray_address: str | None, actors: int,
         num_gpus_per_actor: float, cpus_per_actor: float) -> None:  # fmt: skip
    """Index FILES (JSONL or CSV, .gz ok, - for stdin; Parquet with --ray) into NAME."""
    from processors.indexing.bulk import BulkIndexer, RunControl
    from processors.indexing.fingerprint import pipeline_fingerprint
    from processors.indexing.runner import IndexingOptions
    from processors.models.binding import model_store
    from processors.opensearch.client import make_client
    from processors.opensearch.indices import default_pipeline_of

    client = make_client(settings)
    # the node and the bulk writer share the cores: ONNX threads must not spin-wait
    from processors.models.device import parse_device

    parse_device(device)  # a bad value is a usage error before anything runs
    from processors.indexing.runner import MODEL_TOKEN_BUDGET

    store = model_store(
        settings, truncation=store_truncation(truncation), spin=False, device=device,
        token_budget=MODEL_TOKEN_BUDGET,
    )  # fmt: skip
    ref = pipeline_ref or default_pipeline_of(client, name)
    pipeline, spec = None, None
    if ref is not None:
        from processors.config.ingest_body import load_ingest_pipeline
        from processors.pipeline.ingest import IngestPipeline

        spec = load_ingest_pipeline(resolve_pipeline_path(settings, ref))
        pipeline = IngestPipeline(spec, encoders=store.get, client=client)
    fingerprint = pipeline_fingerprint(spec, describe=store.registration, truncation=truncation)
    options = IndexingOptions(chunk_docs=batch_size, token_budget=token_budget)
    if use_ray:
        from processors.cli.ray_bulk import ray_bulk

        report = ray_bulk(settings, name, list(files), spec=spec, fingerprint=fingerprint,
                          options=options, address=ray_address, actors=actors,
                          gpus_per_actor=num_gpus_per_actor, cpus_per_actor=cpus_per_actor,
                          id_field=id_field, skip_unchanged=skip_unchanged, resume=resume,
                          force=force, truncation=truncation, dead_letter=dead_letter,
                          device=device, progress=progress)  # fmt: skip
        _finish(name, ref, report, truncation, dead_letter)
        return
    control = RunControl(checkpoint=checkpoint, home=settings.home, resume=resume,
                         skip_unchanged=skip_unchanged, force=force, id_field=id_field)  # fmt: skip
    from processors.semantic.ingest import for_index, registration_doc

    semantic = for_index(client, name, lambda m: registration_doc(store.registration(m)), store.get)
    bar = _progress_bar(files) if progress else None
    indexer = BulkIndexer(client, name, pipeline, fingerprint=fingerprint, options=options,
                          dead_letter=dead_letter, control=control, token_stats=store.token_stats,
                          on_batch=bar.update if bar is not None else None,
                          semantic=semantic)  # fmt: skip
    try:
        report = indexer.index_files(list(files))
    finally:
        if bar is not None:
            bar.close()
    _finish(name, ref, report, truncation, dead_letter)


def _finish(name: str, ref: str | None, report: Any, truncation: str,
            dead_letter: Path | None) -> None:  # fmt: skip
    """Print the report line and the warnings; fail when documents failed."""
    click.echo(json.dumps({"index": name, "pipeline": ref, **report.as_dict()}))
    note = truncation_note(report.truncated, truncation)
    if note:
        click.echo(note, err=True)
    if report.duplicates:
        click.echo(f"warning: {report.duplicates} document(s) repeat an earlier id and replaced "
                   f"it, e.g. {report.first_duplicates[0]}", err=True)  # fmt: skip
    if report.failed:
        where = f"; see {dead_letter}" if dead_letter else ""
        raise click.ClickException(f"{report.failed} document(s) failed{where}")


def truncation_note(truncated: int, mode: str) -> str | None:
    """The one line a run prints about truncation (``warn``: a count, details with ``-v``)."""
    if not truncated or mode != "warn":
        return None
    return (
        f"warning: {truncated} text(s) exceeded the model's max length and were truncated "
        "(each batch's details with -v; --truncation fail to refuse them)"
    )


def store_truncation(mode: str) -> str:
    """The tokenizers' mode for a CLI ``--truncation``: ``warn`` counts, reported once."""
    return "count" if mode == "warn" else mode


class ProgressBar:
    """tqdm over settled documents (total and ETA when known), tokens/s and failures."""

    def __init__(self, total: int | None, desc: str | None = None) -> None:
        from tqdm import tqdm

        self._bar: Any = tqdm(total=total, desc=desc, unit="doc", dynamic_ncols=True, leave=True)
        self._started: float = self._bar.start_t

    def update(self, report: Any) -> None:
        self._bar.n = report.settled
        elapsed = max(self._bar.format_dict["elapsed"], 1e-9)
        self._bar.set_postfix(tok_s=f"{report.tokens / elapsed:.0f}", failed=report.failed,
                              refresh=False)  # fmt: skip
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def _progress_bar(files: tuple[Path, ...]) -> ProgressBar:
    return ProgressBar(_count_lines(files))
