"""``neuralpipe serve``: OpenSearch's REST API with neural-search and ml-commons behind it.

Point an unmodified OpenSearch client at the proxy: ``_search``/``_msearch`` run neuralpipe's
search pipelines (``neural``, ``neural_sparse``, ``hybrid``, ``rerank``), ``_bulk``/``_doc``
run its ingest pipelines, ``_ingest``/``_search`` pipeline APIs store pipelines in the node,
``/_plugins/_ml`` is the model registry, and every other request goes to the node unchanged.

Example:
    >>> from processors.proxy import ProxySettings, create_app           # doctest: +SKIP
    >>> app = create_app(ProxySettings(upstream_url="http://127.0.0.1:9200"))  # doctest: +SKIP
"""

from __future__ import annotations

from processors.proxy.app import ProxySettings, create_app

__all__ = ["ProxySettings", "create_app"]
