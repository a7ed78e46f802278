"""``neuralpipe opensearch install | start | stop | status | logs``."""

from __future__ import annotations

import json

import click

from processors.settings import Settings


@click.group()
def opensearch() -> None:
    """The local OpenSearch node (minimal distribution + k-NN, from Maven Central)."""


@opensearch.command()
@click.pass_obj
def install(settings: Settings) -> None:
    """Download and install the node; does nothing when already installed."""
    from processors.opensearch.distribution import Distribution

    record = Distribution(settings.home, settings.opensearch_version).ensure_installed()
    click.echo(json.dumps(record, indent=2))


@opensearch.command()
@click.option(
    "--port", type=int, help="HTTP port (default 9200, or a free one when 9200 is taken)."
)
@click.option("--heap", help="JVM heap, e.g. 512m or 1g (default 512m).")
@click.option(
    "--timeout", type=float, default=180, show_default=True, help="Seconds to wait for health."
)
@click.pass_obj
def start(settings: Settings, port: int | None, heap: str | None, timeout: float) -> None:
    """Start the node (or reuse the running one) and print its URL."""
    from processors.opensearch.node import LocalNode

    if not settings.uses_embedded_node:
        click.echo(f"--url is set: using {settings.opensearch_url}, nothing to start", err=True)
        return
    info = LocalNode(settings).start(port=port, heap=heap, timeout=timeout)
    click.echo(
        "reusing the running node" if info.reused else f"started in {info.start_s}s", err=True
    )
    click.echo(info.url)


@opensearch.command()
@click.option(
    "--timeout", type=float, default=30, show_default=True, help="Seconds before SIGKILL."
)
@click.pass_obj
def stop(settings: Settings, timeout: float) -> None:
    """Stop the node: SIGTERM, then SIGKILL after --timeout."""
    from processors.opensearch.node import LocalNode

    stopped = LocalNode(settings).stop(timeout=timeout)
    click.echo("stopped" if stopped else "not running", err=True)


@opensearch.command()
@click.pass_obj
def status(settings: Settings) -> None:
    """URL, version, plugins, modules and health of the cluster in use (JSON)."""
    from processors.opensearch.client import make_client, resolve_url

    url = resolve_url(settings)
    client = make_client(settings.model_copy(update={"opensearch_url": url}))
    info = client.info()
    nodes = client.nodes.info(metric="plugins")["nodes"]
    first = next(iter(nodes.values()))
    report = {
        "url": url,
        "version": info["version"]["number"],
        "plugins": sorted(p["name"] for p in first.get("plugins", [])),
        "modules": sorted(m["name"] for m in first.get("modules", [])),
        "health": client.cluster.health()["status"],
    }
    click.echo(json.dumps(report, indent=2))


@opensearch.command()
@click.option("--lines", "-n", type=int, default=50, show_default=True, help="How many lines.")
@click.pass_obj
def logs(settings: Settings, lines: int) -> None:
    """The last lines of the local node's log."""
    from processors.opensearch.node import LocalNode

    click.echo(LocalNode(settings).log_tail(lines))
