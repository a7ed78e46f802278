"""``neuralpipe serve``: the OpenSearch-compatible proxy (uvicorn), on 127.0.0.1 by default."""

from __future__ import annotations

from pathlib import Path

import click

from processors.settings import Settings


@click.command()
@click.option("--port", type=int, default=9201, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind (the default serves this machine only).")  # fmt: skip
@click.option("--upstream", help="OpenSearch to put the proxy in front of "
              "(default: --url / NEURALPIPE_OPENSEARCH_URL, else the local node).")  # fmt: skip
@click.option(
    "--pipelines-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder with ingest/, search/ and models/ bodies (default: the global "
    "--pipelines-dir / NEURALPIPE_PIPELINES_DIR, else the project's pipelines/).",
)
@click.option("--max-body-mb", type=int, default=100, show_default=True,
              help="Largest request body in MiB (413 beyond).")  # fmt: skip
@click.option("--query-cache", type=int, default=10_000, show_default=True,
              help="Query embeddings kept in the LRU cache (0: none).")  # fmt: skip
@click.option("--micro-batch/--no-micro-batch", default=True, show_default=True,
              help="Merge concurrent query embeddings into one model call.")  # fmt: skip
@click.option("--inference-slots", type=click.IntRange(min=1), default=None,
              help="Model calls at once per query model (default: cores, up to 4).")  # fmt: skip
@click.option("--max-batch", type=click.IntRange(min=1), default=64, show_default=True,
              help="Most query texts in one micro-batched model call.")  # fmt: skip
@click.option("--model-threads", type=click.IntRange(min=0), default=1, show_default=True,
              help="Intra-op threads per model call (0: one per core).")  # fmt: skip
@click.option(
    "--ml-index-prefix",
    default=".plugins-ml",
    show_default=True,
    envvar="NEURALPIPE_ML_INDEX_PREFIX",
    help="Prefix of the model registry's indices.",
)
@click.option(
    "--warm/--no-warm",
    default=True,
    show_default=True,
    help="Load the models the pipeline files name before serving.",
)
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True, help="uvicorn's log level.")  # fmt: skip
@click.option("--access-log/--no-access-log", default=False, show_default=True,
              help="Log every request (uvicorn's access log; costs CPU per request).")  # fmt: skip
@click.option("--lend-identity", is_flag=True,
              help="Send --username/--password upstream for client requests that carry no "
                   "Authorization: anyone who reaches the proxy gets those rights. Default: "
                   "the client's own credentials, or none.")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Proxy processes behind the port (uvicorn's process manager; each loads its "
                   "own models; they share pipelines and models through the node).")  # fmt: skip
@click.pass_obj
def serve(
    settings: Settings, port: int, host: str, upstream: str | None, pipelines_dir: Path | None,
    max_body_mb: int, query_cache: int, micro_batch: bool, ml_index_prefix: str, warm: bool,
    log_level: str, access_log: bool, inference_slots: int | None, max_batch: int,
    model_threads: int, lend_identity: bool, workers: int,
) -> None:  # fmt: skip
    """Serve OpenSearch's REST API with neural-search and ml-commons behind it."""
    try:
        import uvicorn

        from processors.proxy.app import ProxySettings, create_app, server_options
        from processors.proxy.upstream import redact
    except ImportError as exc:
        raise click.ClickException(
            f"the proxy needs its extra ({exc.name} is missing): pip install 'neuralpipe[proxy]'"
        ) from exc
    from processors.opensearch.client import resolve_url, targets_embedded_node

    if pipelines_dir is not None:
        settings = settings.model_copy(update={"pipelines_dir": pipelines_dir})
    target = (upstream or resolve_url(settings)).rstrip("/")
    proxy = ProxySettings.from_settings(
        settings, target, max_body_bytes=max_body_mb * 1024 * 1024,
        query_cache_size=query_cache, micro_batch=micro_batch, ml_index_prefix=ml_index_prefix,
        warm_models=warm, max_batch=max_batch, model_threads=model_threads or None,
        lend_identity=lend_identity, embedded_node=targets_embedded_node(settings, target),
        **({} if inference_slots is None else {"inference_slots": inference_slots}),
    )  # fmt: skip
    click.echo(f"neuralpipe proxy on http://{host}:{port} -> {redact(target)}"
               + (f" ({workers} workers)" if workers > 1 else ""), err=True)  # fmt: skip
    options = {**server_options(), "access_log": access_log}
    if workers > 1:
        from processors.proxy.workers import run_workers

        run_workers(proxy, workers, host=host, port=port, log_level=log_level, **options)
        return
    app = create_app(proxy)
    uvicorn.run(app, host=host, port=port, log_level=log_level, **options)
