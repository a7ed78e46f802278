"""``neuralpipe pipeline validate | show``."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def pipeline() -> None:
    """Pipeline files: pipelines/ingest/<id>.yaml is the body of PUT _ingest/pipeline/<id>."""


@pipeline.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check ingest pipeline files; every error with its path; exit 2 if any is invalid."""
    from processors.config.ingest_body import load_ingest_pipeline
    from processors.errors import ConfigError

    failures: list[str] = []
    for path in paths:
        try:
            spec = load_ingest_pipeline(path)
        except ConfigError as exc:
            failures.append(str(exc))
            continue
        ours = sum(not step.runs_on_node for step in spec.steps)
        click.echo(
            f"{path}: ok ({ours} neuralpipe, {len(spec.steps) - ours} node processors)", err=True
        )
    if failures:
        raise ConfigError("\n".join(failures))


@pipeline.command()
@click.argument("path", type=click.Path(path_type=Path))
def show(path: Path) -> None:
    """Print a validated pipeline body as JSON (what OpenSearch would receive)."""
    from processors.config.ingest_body import load_ingest_pipeline

    click.echo(json.dumps(load_ingest_pipeline(path).body, indent=2))
