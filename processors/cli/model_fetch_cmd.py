"""``neuralpipe model fetch NAME``: a pretrained catalog model, downloaded and verified.

Prints JSON to stdout (model id, zip, yaml, hash, cached). Needs a network (or a mirror named
by ``--base-url`` / ``NEURALPIPE_MODEL_ARTIFACTS_URL``).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from processors.settings import Settings


@click.command()
@click.argument("name")
@click.option("--version", "version", default=None, help="Catalog version (default: the listed).")
@click.option(
    "--format",
    "model_format",
    type=click.Choice(["TORCH_SCRIPT", "ONNX"], case_sensitive=False),
    default=None,
    help="Artifact format (default: TORCH_SCRIPT, which every catalog model has).",
)
@click.option("--id", "model_id", default=None, help="Model id (default: <name>-<format>).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for the <id>.yaml register body (default: <pipelines dir>/models).",
)
@click.option(
    "--base-url",
    default=None,
    help="Artifact root (default: NEURALPIPE_MODEL_ARTIFACTS_URL or OpenSearch's).",
)
@click.option("--timeout", "timeout_s", type=float, default=60.0, show_default=True)
@click.pass_context
def fetch(
    ctx: click.Context,
    name: str,
    version: str | None,
    model_format: str | None,
    model_id: str | None,
    out: Path | None,
    base_url: str | None,
    timeout_s: float,
) -> None:
    """Download catalog model NAME, check its SHA-256, write its _register body."""
    from processors.models.build.fetch import fetch_model

    obj = ctx.find_root().obj
    settings = obj if isinstance(obj, Settings) else Settings()
    result = fetch_model(
        name,
        version,
        model_format.upper() if model_format else None,
        models_dir=settings.home / "models",
        yaml_dir=out if out is not None else settings.pipelines_dir / "models",
        base_url=base_url or settings.model_artifacts_url,
        model_id=model_id,
        timeout_s=timeout_s,
    )
    click.echo(
        json.dumps(
            {
                "model_id": result.model_id,
                "zip": str(result.zip_path),
                "yaml": str(result.yaml_path),
                "model_content_hash_value": result.registration.model_content_hash_value,
                "cached": result.cached,
            },
            indent=2,
        )
    )
