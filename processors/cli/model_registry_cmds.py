"""``neuralpipe model list | register | deploy | undeploy``: the ml-commons-shaped registry.

The registry's state lives in the OpenSearch node (``--index-prefix``, default
``.plugins-ml``). Machine output is JSON on stdout; progress and summaries go to stderr.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from processors.settings import Settings

_PREFIX_HELP = "Prefix of the registry's indices (<prefix>-model, -model-group, -task)."


def _registry(settings: Settings, index_prefix: str, **kwargs: Any) -> Any:
    from processors.models.mlcommons.model_registry import ModelRegistry
    from processors.opensearch.client import make_client

    return ModelRegistry(
        make_client(settings), index_prefix=index_prefix,
        cache_dir=settings.home / "registry-cache", **kwargs,
    )  # fmt: skip


def _table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header], *[[("" if c is None else str(c)) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)  # fmt: skip


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2))


def _prefix_option(func: Any) -> Any:
    return click.option(
        "--index-prefix", envvar="NEURALPIPE_ML_INDEX_PREFIX", default=".plugins-ml",
        show_default=True, help=_PREFIX_HELP,
    )(func)  # fmt: skip


@click.command(name="list")
@click.option("--catalog", "show_catalog", is_flag=True, help="The 19 pretrained models instead.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@_prefix_option
@click.pass_obj
def list_models(settings: Settings, show_catalog: bool, as_json: bool, index_prefix: str) -> None:
    """List registered models (from the node), or the pretrained catalog with --catalog."""
    if show_catalog:
        from processors.models.mlcommons import catalog

        entries = catalog.all_models()
        if as_json:
            _echo_json([e.model_dump(mode="json") for e in entries])
            return
        rows = [(e.name, e.version, e.function_name.value, e.embedding_dimension or "",
                 ",".join(f.value for f in e.model_formats)) for e in entries]  # fmt: skip
        click.echo(_table(rows, ("NAME", "VERSION", "FUNCTION", "DIM", "FORMATS")))
        return
    models = _registry(settings, index_prefix).list_models()
    if as_json:
        _echo_json(models)
        return
    rows = [(m["model_id"], m.get("name"), m.get("model_version"), m.get("algorithm"),
             m.get("model_state")) for m in models]  # fmt: skip
    click.echo(_table(rows, ("MODEL_ID", "NAME", "VERSION", "FUNCTION", "STATE")))


def _body_from_file(path: Path) -> dict[str, Any]:
    import yaml

    from processors.errors import ConfigError

    try:
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read register body: {exc}") from None
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: a register body must be a mapping")
    return body


def _catalog_body(name: str, version: str | None, model_format: str | None) -> dict[str, Any]:
    from processors.models.mlcommons import catalog

    entry = catalog.get_model(name, version, model_format)
    fmt = model_format or entry.default_format().value
    return {"name": entry.name, "version": entry.version, "model_format": fmt}


def _finish(registry: Any, response: Mapping[str, Any], what: str) -> dict[str, Any]:
    task = registry.get_task(response["task_id"])
    result = {**response, "task": task, "model_id": task.get("model_id")}
    _echo_json(result)
    if task.get("state") != "COMPLETED":
        raise click.ClickException(f"{what} failed: {task.get('error', task.get('state'))}")
    return result


@click.command()
@click.argument("source")
@click.option(
    "--artifact-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder holding pretrained zips, named as their download URL's file.",
)
@click.option(
    "--models-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where relative `url` paths resolve (default: <home>/models).",
)
@click.option("--model-version", "version", help="Catalog model version (default: the listed one).")
@click.option(
    "--model-format",
    type=click.Choice(["TORCH_SCRIPT", "ONNX"]),
    help="Catalog model format (default: TORCH_SCRIPT).",
)
@click.option("--model-group-id", help="Add the model to this model group.")
@click.option("--model-id", help="Model id to use (default: a body file's stem).")
@click.option("--random-id", is_flag=True, help="A random id, as ml-commons generates.")
@click.option("--deploy", is_flag=True, help="Deploy the model once registered.")
@click.option("--no-download", is_flag=True, help="Never download; local files only.")
@_prefix_option
@click.pass_obj
def register(
    settings: Settings, source: str, artifact_dir: Path | None, models_dir: Path | None,
    version: str | None, model_format: str | None, model_group_id: str | None,
    model_id: str | None, random_id: bool, deploy: bool, no_download: bool, index_prefix: str,
) -> None:  # fmt: skip
    """Register SOURCE: a register body file (pipelines/models/<id>.yaml) or a catalog name."""
    path = Path(source)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file():
        body = _body_from_file(path)
        model_id = model_id or path.stem
    else:
        body = _catalog_body(source, version, model_format)
    if model_group_id:
        body["model_group_id"] = model_group_id
    registry = _registry(
        settings, index_prefix, models_dir=models_dir or settings.home / "models",
        artifact_dir=artifact_dir, allow_download=not no_download,
    )  # fmt: skip
    response = registry.register_model(
        body, deploy=deploy, model_id=None if random_id else model_id
    )
    result = _finish(registry, response, "register")
    click.echo(f"registered {body.get('name')} as model {result['model_id']}", err=True)


@click.command()
@click.argument("model_id")
@_prefix_option
@click.pass_obj
def deploy(settings: Settings, model_id: str, index_prefix: str) -> None:
    """Deploy MODEL_ID: reassemble its chunks, verify and load it; state DEPLOYED."""
    registry = _registry(settings, index_prefix)
    _finish(registry, registry.deploy_model(model_id), "deploy")
    click.echo(f"deployed model {model_id}", err=True)


@click.command()
@click.argument("model_id")
@_prefix_option
@click.pass_obj
def undeploy(settings: Settings, model_id: str, index_prefix: str) -> None:
    """Undeploy MODEL_ID: state UNDEPLOYED (it can be deployed again)."""
    _echo_json(_registry(settings, index_prefix).undeploy_model(model_id))
    click.echo(f"undeployed model {model_id}", err=True)


# The lazy `model` group looks commands up by their names, `list` included.
list = list_models
