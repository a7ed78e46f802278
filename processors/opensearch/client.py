"""Build an opensearch-py client from :class:`~processors.settings.Settings`.

``opensearch_url`` (``NEURALPIPE_OPENSEARCH_URL``) points at an existing cluster, with
optional basic auth and TLS options; unset, the client talks to the embedded local node.

Example:
    >>> client = make_client(Settings(opensearch_url="http://127.0.0.1:9200"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from processors.errors import NodeError
from processors.settings import Settings


def resolve_url(settings: Settings) -> str:
    """The cluster URL: the configured one, or the running embedded node's."""
    if settings.opensearch_url:
        return settings.opensearch_url.rstrip("/")
    from processors.opensearch.node import LocalNode

    running = LocalNode(settings).running()
    if running is None:
        from processors.opensearch.cluster import LocalCluster

        cluster = LocalCluster(settings).running()  # `neuralpipe opensearch start --nodes N`
        if cluster is not None:
            return cluster.url
    if running is None:
        raise NodeError(
            "no OpenSearch to talk to: start the local node with `neuralpipe opensearch start` "
            "or point --url / NEURALPIPE_OPENSEARCH_URL at a cluster"
        )
    return running.url


def targets_embedded_node(settings: Settings, url: str | None = None) -> bool:
    """Whether the cluster in use (``url``, else the configured or running one) is a node
    neuralpipe started, whose k-NN has no native libraries (``faiss`` / ``nmslib`` fields kill
    it at their first write). Asked of the node itself, so a ``--url`` /
    ``NEURALPIPE_OPENSEARCH_URL`` naming the local node counts, and ``serve --upstream`` naming
    another cluster does not; when nothing answers, only a configuration without a URL does.
    """
    from processors.opensearch.node import is_neuralpipe_node

    try:
        target = url or resolve_url(settings)
    except NodeError:
        return settings.uses_embedded_node
    answer = is_neuralpipe_node(target)
    return settings.uses_embedded_node if answer is None else answer


def make_client(settings: Settings, **kwargs: Any) -> Any:
    """An ``opensearchpy.OpenSearch`` client for the configured cluster."""
    from opensearchpy import OpenSearch

    # the bulk runner talks to the node from two threads (core steps, bulk requests)
    options: dict[str, Any] = {"hosts": [resolve_url(settings)], "timeout": 60, "pool_maxsize": 8}
    if settings.opensearch_username is not None:
        options["http_auth"] = (settings.opensearch_username, settings.opensearch_password or "")
    options["verify_certs"] = settings.opensearch_verify_certs
    if not settings.opensearch_verify_certs:
        options["ssl_show_warn"] = False
    if settings.opensearch_ca_certs is not None:
        options["ca_certs"] = str(settings.opensearch_ca_certs)
    options.update(kwargs)
    return OpenSearch(**options)
