"""``neuralpipe model build | inspect | predict``: OpenSearch model zips and their runtimes.

All three print JSON to stdout. Zips live in the models directory (``<home>/models``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from processors.errors import ModelError
from processors.settings import Settings

if TYPE_CHECKING:
    from processors.models.tokenization import TruncationMode

_FUNCTIONS = [
    "TEXT_EMBEDDING",
    "SPARSE_ENCODING",
    "SPARSE_TOKENIZE",
    "TEXT_SIMILARITY",
    "QUESTION_ANSWERING",
    "NER",
    "FILL_MASK",
    "TEXT_CLASSIFICATION",
    "ZERO_SHOT_CLASSIFICATION",
]


def _settings(ctx: click.Context) -> Settings:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Settings) else Settings()


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--function",
    "function",
    type=click.Choice(_FUNCTIONS, case_sensitive=False),
    default="TEXT_EMBEDDING",
    show_default=True,
    help="ml-commons function name.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["onnx", "torch_script", "both"]),
    default="both",
    show_default=True,
    help="Artifact format(s).",
)
@click.option("--id", "model_id", required=True, help="Base model id (a format suffix is added).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("pipelines/models"),
    show_default=True,
    help="Directory for the <id>.yaml register bodies.",
)
@click.option(
    "--quantize",
    type=click.Choice(["int8"]),
    default=None,
    help="Also build a dynamic int8 ONNX (TEXT_EMBEDDING, TEXT_SIMILARITY) + its quality.",
)
@click.option("--name", default=None, help="Register body name (default: the model id).")
@click.option("--model-version", "version", default="1.0.0", show_default=True)
@click.option("--max-length", type=int, default=None, help="Override truncation length.")
@click.pass_context
def build(
    ctx: click.Context,
    source: Path,
    function: str,
    fmt: str,
    model_id: str,
    out: Path,
    quantize: str | None,
    name: str | None,
    version: str,
    max_length: int | None,
) -> None:
    """Build OpenSearch model zip(s) from a local HF / sentence-transformers SOURCE directory."""
    from processors.models.build.builder import build_model
    from processors.models.registration import FunctionName, ModelFormat

    formats = (
        [ModelFormat.ONNX, ModelFormat.TORCH_SCRIPT]
        if fmt == "both"
        else [ModelFormat(fmt.upper())]
    )
    results = build_model(
        source,
        FunctionName(function.upper()),
        model_id=model_id,
        formats=formats,
        cache_dir=_settings(ctx).home / "models",
        yaml_dir=out,
        name=name,
        version=version,
        quantize=quantize,
        model_max_length=max_length,
    )
    _echo(
        [
            {
                "model_id": r.model_id,
                "zip": str(r.zip_path),
                "yaml": str(r.yaml_path),
                "model_content_hash_value": r.registration.model_content_hash_value,
                "cached": r.cached,
                "quality": r.quality,
            }
            for r in results
        ]
    )


@click.command()
@click.argument("zip_path", metavar="ZIP", type=click.Path(exists=True, path_type=Path))
@click.pass_context
def inspect(ctx: click.Context, zip_path: Path) -> None:
    """Show a model ZIP: files, format, sha256, tokenizer limits, graph inputs/outputs."""
    from processors.models.build.inspection import inspect_zip

    _echo(inspect_zip(zip_path, _settings(ctx).home / "models" / "extracted"))


@click.command()
@click.argument("model")
@click.argument("texts", nargs=-1, required=True)
@click.option(
    "--body",
    type=click.Path(exists=True, path_type=Path),
    help="Register body (YAML/JSON) when MODEL is a zip.",
)
@click.option(
    "--models-dir",
    type=click.Path(path_type=Path),
    default=Path("pipelines/models"),
    show_default=True,
    help="Where <model_id>.yaml register bodies live.",
)
@click.option("--query", default=None, help="query_text (TEXT_SIMILARITY): TEXTS are the docs.")
@click.option("--content-type", type=click.Choice(["query", "passage"]), default=None)
@click.option("--sparse-format", type=click.Choice(["WORD", "TOKEN_ID"]), default="WORD")
@click.option("--truncation", type=click.Choice(["warn", "fail", "silent"]), default="warn")
@click.option(
    "--parameters",
    "parameters_json",
    default=None,
    help='NLP task options as JSON, e.g. \'{"labels": ["a", "b"], "num_top_classes": 2}\'.',
)
@click.option("--question", default=None, help="QUESTION_ANSWERING: the question; TEXTS: contexts.")
@click.pass_context
def predict(
    ctx: click.Context,
    model: str,
    texts: tuple[str, ...],
    body: Path | None,
    models_dir: Path,
    query: str | None,
    content_type: str | None,
    sparse_format: str,
    truncation: str,
    parameters_json: str | None,
    question: str | None,
) -> None:
    """Run MODEL (a model id, a register-body YAML, or a zip with --body) on TEXTS.

    Prints the ml-commons ``_predict`` response body.
    """
    from processors.models.artifact import resolve_artifact_url
    from processors.models.loader import load_model
    from processors.models.mlcommons.predict import predict_response
    from processors.models.store import read_registration, yaml_resolver

    home_models = _settings(ctx).home / "models"
    path = Path(model)
    if path.suffix == ".zip":
        if body is None:
            raise ModelError("a zip needs its register body: --body <model>.yaml")
        zip_path, reg = path, read_registration(body)
    elif path.suffix in (".yaml", ".yml", ".json") and path.is_file():
        reg = read_registration(path)
        if not reg.url:
            raise ModelError(f"{path} has no url")
        zip_path = resolve_artifact_url(reg.url, home_models)
    else:
        zip_path, reg = yaml_resolver(models_dir, home_models)(model)
    mode = cast("TruncationMode", truncation)
    loaded = load_model(zip_path, reg, cache_dir=home_models / "extracted", truncation=mode)
    parameters: dict[str, Any] = {"sparse_embedding_format": sparse_format}
    if content_type is not None:
        parameters["content_type"] = content_type
    from processors.models.task_runtime import TASK_FUNCTIONS

    if reg.function_name in TASK_FUNCTIONS:  # the task's own options only
        parameters = _task_parameters(parameters_json)
        if question is not None:
            parameters["question"] = question
    request: dict[str, Any] = {"text_docs": list(texts), "parameters": parameters}
    if query is not None:
        request["query_text"] = query
    config = reg.model_config_.model_dump(exclude_none=True) if reg.model_config_ else None
    _echo(predict_response(reg.function_name.value, loaded, request, config))


def _task_parameters(raw: str | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--parameters") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--parameters")
    return value
