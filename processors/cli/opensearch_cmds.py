"""``neuralpipe opensearch install | start | stop | reset | status | logs``.

``--reference`` acts on the reference node instead (OpenSearch + the real ml-commons and
neural-search plugins, :mod:`processors.opensearch.reference`), used only by the differential
check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from processors.opensearch.distribution import SUPPORTED_VERSIONS
from processors.settings import Settings

REFERENCE_HELP = (
    "Act on the reference node (the real ml-commons + neural-search plugins, for the "
    "differential check) instead of the main node."
)


_F = TypeVar("_F", bound=Callable[..., Any])


def _set_version(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        field = "opensearch_version" if param.name == "version" else "reference_version"
        settings = ctx.find_object(Settings) or Settings()
        ctx.obj = settings.model_copy(update={field: value})


def _version_options(command: _F) -> _F:
    """``--version`` (the main node) and ``--reference-version``, applied to the settings."""
    for name, env, what in (
        ("--reference-version", "NEURALPIPE_REFERENCE_VERSION", "the reference node"),
        ("--version", "NEURALPIPE_OPENSEARCH_VERSION", "the main node"),
    ):
        command = click.option(
            name, type=click.Choice(SUPPORTED_VERSIONS), envvar=env, expose_value=False,
            callback=_set_version, is_eager=True,
            help=f"OpenSearch version of {what} (default {SUPPORTED_VERSIONS[0]}; "
            "2.19.6 runs on Java 17).",
        )(command)  # fmt: skip
    return command


def _reference(settings: Settings) -> Any:
    from processors.opensearch.reference import ReferenceNode

    return ReferenceNode.from_settings(settings)


@click.group()
def opensearch() -> None:
    """The local OpenSearch node (minimal distribution + k-NN, from Maven Central)."""


@opensearch.command()
@click.option("--reference", is_flag=True, help=REFERENCE_HELP)
@_version_options
@click.pass_obj
def install(settings: Settings, reference: bool) -> None:
    """Download and install the node; does nothing when already installed."""
    from processors.opensearch.distribution import Distribution

    if reference:
        record = _reference(settings).install()
    else:
        record = Distribution(settings.home, settings.opensearch_version).ensure_installed()
    click.echo(json.dumps(record, indent=2))


@opensearch.command()
@click.option(
    "--port",
    type=int,
    help="HTTP port (default 9200, or a free one when 9200 is taken; 9250 with --reference).",
)
@click.option(
    "--heap",
    help="JVM heap, e.g. 512m or 1g (default 1g on 3.x, 512m on 2.19; 1g with --reference).",
)
@click.option(
    "--timeout", type=float, help="Seconds to wait for health (default 180; 240 with --reference)."
)
@click.option("--reference", is_flag=True, help=REFERENCE_HELP)
@click.option(
    "--nodes",
    type=click.IntRange(min=1),
    help="Form a local cluster of N nodes on 127.0.0.1 (own HTTP/transport ports, "
    "discovery, cluster-manager election; heap 512m each unless --heap).",
)
@_version_options
@click.pass_obj
def start(
    settings: Settings, port: int | None, heap: str | None, timeout: float | None, reference: bool,
    nodes: int | None,
) -> None:  # fmt: skip
    """Start the node (or reuse the running one) and print its URL."""
    from processors.opensearch.node import LocalNode
    from processors.opensearch.reference import DEFAULT_PORT, DEFAULT_TIMEOUT

    if nodes is not None and not reference and settings.uses_embedded_node:
        from processors.opensearch.cluster import LocalCluster

        settings = settings.model_copy(update={"node_port": port}) if port else settings
        cluster = LocalCluster(settings, nodes=nodes, heap=heap).start(timeout=timeout or 600)
        click.echo("reusing the running cluster" if cluster.reused
                   else f"{nodes} nodes started in {cluster.start_s}s", err=True)  # fmt: skip
        click.echo("\n".join(cluster.urls))
        return
    if reference:
        info = _reference(settings).start(
            port=DEFAULT_PORT if port is None else port,
            heap=heap,
            timeout=timeout or DEFAULT_TIMEOUT,
        )
    elif not settings.uses_embedded_node:
        click.echo(f"--url is set: using {settings.opensearch_url}, nothing to start", err=True)
        return
    else:
        info = LocalNode(settings).start(port=port, heap=heap, timeout=timeout or 180)
    click.echo(
        "reusing the running node" if info.reused else f"started in {info.start_s}s", err=True
    )
    click.echo(info.url)


@opensearch.command()
@click.option(
    "--timeout", type=float, default=30, show_default=True, help="Seconds before SIGKILL."
)
@click.option("--reference", is_flag=True, help=REFERENCE_HELP)
@_version_options
@click.pass_obj
def stop(settings: Settings, timeout: float, reference: bool) -> None:
    """Stop the node: SIGTERM, then SIGKILL after --timeout."""
    from processors.opensearch.node import LocalNode

    node = _reference(settings) if reference else LocalNode(settings)
    stopped = node.stop(timeout=timeout)
    if not reference:
        from processors.opensearch.cluster import LocalCluster

        cluster = LocalCluster(settings)
        if cluster.nodes:
            count = cluster.stop(timeout=timeout)
            click.echo(f"cluster: {count} node(s) stopped", err=True)
            stopped = stopped or count > 0
    click.echo("stopped" if stopped else "not running", err=True)


@opensearch.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--reference", is_flag=True, help=REFERENCE_HELP)
@_version_options
@click.pass_obj
def reset(settings: Settings, yes: bool, reference: bool) -> None:
    """Stop the node and delete its data (every index), config and logs; the install stays.

    The way back for a node that no longer starts (e.g. after a ``faiss`` field was written to
    it). The reference node also forgets its registered models (they are uploaded again).
    """
    from processors.opensearch.node import LocalNode

    node = _reference(settings).node if reference else LocalNode(settings)
    if not yes:
        click.confirm(f"Delete every index of the node in {node.state_dir}?", abort=True)
    removed = node.reset()
    click.echo(f"reset: {node.state_dir} removed" if removed else "reset: no state", err=True)


@opensearch.command()
@click.option("--reference", is_flag=True, help=REFERENCE_HELP)
@_version_options
@click.pass_obj
def status(settings: Settings, reference: bool) -> None:
    """URL, version, plugins, modules and health of the cluster in use (JSON)."""
    from processors.opensearch.client import resolve_url

    if not reference:
        url = resolve_url(settings)
        wired = settings.model_copy(update={"opensearch_url": url})
        click.echo(json.dumps({**_report(wired), **_cluster_report(wired)}, indent=2))
        return
    from processors.opensearch.reference_models import ReferenceModels

    node = _reference(settings)
    running = node.running()
    report: dict[str, Any] = {"running": bool(running), "home": str(node.home)}
    if running:
        local = Settings(home=settings.home, opensearch_url=running.url)
        report.update(_report(local))
    report["models"] = ReferenceModels(node, settings).known()
    click.echo(json.dumps(report, indent=2))


def _report(settings: Settings) -> dict[str, Any]:
    from processors.opensearch.client import make_client

    client = make_client(settings)
    info = client.info()
    nodes = client.nodes.info(metric="plugins")["nodes"]
    first = next(iter(nodes.values()))
    return {
        "url": settings.opensearch_url,
        "version": info["version"]["number"],
        "plugins": sorted(p["name"] for p in first.get("plugins", [])),
        "modules": sorted(m["name"] for m in first.get("modules", [])),
        "health": client.cluster.health()["status"],
    }


def _cluster_report(settings: Settings) -> dict[str, Any]:
    """Nodes (the elected cluster manager marked), shard counts per state, node count."""
    from processors.opensearch.client import make_client

    client = make_client(settings)
    health = client.cluster.health()
    manager = client.cat.cluster_manager(format="json")
    elected = manager[0]["node"] if manager else None
    nodes = client.cat.nodes(format="json", h="name,node.role,http_address,heap.max")
    shards = client.cat.shards(format="json", h="index,shard,prirep,state,node")
    states: dict[str, int] = {}
    for shard in shards:
        states[shard["state"]] = states.get(shard["state"], 0) + 1
    return {
        "number_of_nodes": health["number_of_nodes"],
        "nodes": [
            {
                "name": n["name"],
                "roles": n["node.role"],
                "http": n["http_address"],
                "heap": n["heap.max"],
                "cluster_manager": n["name"] == elected,
            }
            for n in sorted(nodes, key=lambda n: n["name"])
        ],
        "shards": {
            "primaries": health["active_primary_shards"],
            "active": health["active_shards"],
            "relocating": health["relocating_shards"],
            "initializing": health["initializing_shards"],
            "unassigned": health["unassigned_shards"],
            "by_state": states,
        },
    }


@opensearch.command()
@click.option("--lines", "-n", type=int, default=50, show_default=True, help="How many lines.")
@click.option("--reference", is_flag=True, help=REFERENCE_HELP)
@_version_options
@click.pass_obj
def logs(settings: Settings, lines: int, reference: bool) -> None:
    """The last lines of the local node's log."""
    from processors.opensearch.node import LocalNode

    node = _reference(settings).node if reference else LocalNode(settings)
    click.echo(node.log_tail(lines))
