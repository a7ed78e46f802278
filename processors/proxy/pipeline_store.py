"""Where the proxy finds pipelines and the pipeline settings of indices.

:class:`PipelineStore`: pipeline bodies from two places, the API's first:

* ``PUT _ingest/pipeline/<id>`` / ``PUT _search/pipeline/<id>`` bodies with neuralpipe
  processors, kept in the hidden index ``.neuralpipe-pipelines`` of the upstream node, so every
  proxy process in front of it shares them (looked up again after ``ttl`` seconds);
* the YAML/JSON files ``<pipelines_dir>/ingest/<id>.yaml`` and ``search/<id>.yaml``, read and
  validated once at start.

:class:`IndexMeta`: ``_meta.neuralpipe`` of indices (``index.default_pipeline``,
``index.final_pipeline``, ``index.search.default_pipeline``: the settings neuralpipe keeps out of
the node, see :func:`processors.opensearch.indices.split_pipeline_settings`), cached ``ttl``
seconds per index expression.

Example:
    >>> store = PipelineStore(upstream, Path("pipelines"))          # doctest: +SKIP
    >>> spec = await store.spec("search", "hybrid-minmax")          # doctest: +SKIP
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from processors.config.ingest_body import parse_ingest_pipeline, read_body
from processors.config.search_body import parse_search_pipeline
from processors.errors import ConfigError
from processors.proxy.errors import ProxyError
from processors.proxy.upstream import Upstream

logger = logging.getLogger(__name__)
JSONObject = dict[str, Any]
STORE_INDEX = ".neuralpipe-pipelines"
MISSING = object()
"""Not in the cache (:meth:`IndexMeta.cached`)."""
KINDS = ("ingest", "search")
SUFFIXES = (".yaml", ".yml", ".json")
_STORE_BODY = {
    "settings": {"index": {"hidden": True, "number_of_shards": 1, "auto_expand_replicas": "0-1"}},
    "mappings": {
        "dynamic": False,
        "properties": {"kind": {"type": "keyword"}, "pipeline_id": {"type": "keyword"}},
    },
}


def parse(kind: str, pipeline_id: str, body: Any, source: str = "") -> Any:
    """A validated spec (``IngestPipelineSpec`` / ``SearchPipelineSpec``); ConfigError if not."""
    if kind == "ingest":
        return parse_ingest_pipeline(pipeline_id, body, source=source)
    return parse_search_pipeline(pipeline_id, body, source=source)


def has_ours(kind: str, spec: Any) -> bool:
    """Whether a pipeline has a processor only neuralpipe runs (else the node can run it)."""
    steps = spec.steps if kind == "ingest" else (*spec.request, *spec.response,
                                                 *spec.phase_results)  # fmt: skip
    return any(not step.runs_on_node for step in steps)


def load_files(pipelines_dir: Path | None) -> dict[tuple[str, str], JSONObject]:
    """``{(kind, id): body}`` of every pipeline file, each validated (one ConfigError for all)."""
    found: dict[tuple[str, str], JSONObject] = {}
    problems: list[str] = []
    for kind in KINDS:
        folder = (pipelines_dir / kind) if pipelines_dir else None
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix not in SUFFIXES or (kind, path.stem) in found:
                continue
            try:
                body = read_body(path)
                parse(kind, path.stem, body, source=str(path))
            except ConfigError as exc:
                problems.append(str(exc))
                continue
            found[(kind, path.stem)] = body
    if problems:
        raise ConfigError("\n".join(problems))
    return found


class PipelineStore:
    """Pipelines known to neuralpipe: stored through the API (shared) or read from files."""

    def __init__(
        self,
        upstream: Upstream,
        pipelines_dir: Path | None,
        *,
        index: str = STORE_INDEX,
        ttl: float = 1.0,
    ) -> None:
        self.upstream = upstream
        self.index = index
        self.ttl = ttl
        self.files = load_files(pipelines_dir)
        self._cache: dict[tuple[str, str], tuple[float, JSONObject | None]] = {}
        self._specs: dict[tuple[str, str, str], Any] = {}
        self._ensured = False

    def _doc(self, kind: str, pipeline_id: str) -> str:
        return f"/{self.index}/_doc/{quote(f'{kind}:{pipeline_id}', safe='')}"

    async def stored(self, kind: str, pipeline_id: str) -> JSONObject | None:
        """The body PUT through the API, or None."""
        key = (kind, pipeline_id)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        status, answer = await self.upstream.json("GET", self._doc(kind, pipeline_id))
        body: JSONObject | None = None
        if status == 200 and answer.get("found"):
            body = answer["_source"].get("body")
        elif status not in (200, 404):
            raise ProxyError(status, "exception", f"reading {self.index}: {answer}")
        self._cache[key] = (time.monotonic() + self.ttl, body)
        return body

    async def body(self, kind: str, pipeline_id: str) -> JSONObject | None:
        """The body of a neuralpipe pipeline: stored first, else from a file; None if neither."""
        stored = await self.stored(kind, pipeline_id)
        return stored if stored is not None else self.files.get((kind, pipeline_id))

    async def spec(self, kind: str, pipeline_id: str) -> Any:
        """The validated spec of a neuralpipe pipeline, or None (parsed once per body)."""
        body = await self.body(kind, pipeline_id)
        if body is None:
            return None
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        key = (kind, pipeline_id, digest)
        if key not in self._specs:
            self._specs[key] = parse(kind, pipeline_id, body)
        return self._specs[key]

    async def put(self, kind: str, pipeline_id: str, body: JSONObject) -> None:
        """Store a (validated) body for every proxy in front of this node."""
        await self.ensure_index()
        doc = {"kind": kind, "pipeline_id": pipeline_id, "body": body}
        status, answer = await self.upstream.json(
            "PUT", self._doc(kind, pipeline_id), doc, params={"refresh": "true"}
        )
        if status >= 300:
            raise ProxyError(status, "exception", f"storing pipeline [{pipeline_id}]: {answer}")
        self._cache[(kind, pipeline_id)] = (time.monotonic() + self.ttl, body)

    async def delete(self, kind: str, pipeline_id: str) -> bool:
        """Delete a stored body; whether there was one."""
        status, _ = await self.upstream.json(
            "DELETE", self._doc(kind, pipeline_id), params={"refresh": "true"}
        )
        self._cache[(kind, pipeline_id)] = (time.monotonic() + self.ttl, None)
        return status == 200

    async def all(self, kind: str) -> dict[str, JSONObject]:
        """Every neuralpipe pipeline of a kind: files, overridden by stored bodies."""
        found = {pid: body for (k, pid), body in self.files.items() if k == kind}
        query = {"query": {"term": {"kind": kind}}, "size": 10_000}
        status, answer = await self.upstream.json("POST", f"/{self.index}/_search", query)
        if status == 200:
            for hit in answer["hits"]["hits"]:
                found[hit["_source"]["pipeline_id"]] = hit["_source"]["body"]
        return found

    async def ensure_index(self) -> None:
        if self._ensured:
            return
        status, answer = await self.upstream.json("PUT", f"/{self.index}", _STORE_BODY)
        kind = (answer.get("error") or {}).get("type") if isinstance(answer, dict) else None
        if status >= 300 and kind != "resource_already_exists_exception":
            raise ProxyError(status, "exception", f"creating {self.index}: {answer}")
        self._ensured = True


class IndexMeta:
    """``_meta.neuralpipe`` of the concrete indices an expression names (cached ``ttl`` s)."""

    def __init__(self, upstream: Upstream, *, ttl: float = 1.0) -> None:
        self.upstream = upstream
        self.ttl = ttl
        self._cache: dict[str, tuple[float, dict[str, JSONObject]]] = {}

    def forget(self) -> None:
        """Drop everything cached (after a request that may have changed an index)."""
        self._cache.clear()

    async def of(self, expression: str) -> dict[str, JSONObject]:
        """``{concrete index: its neuralpipe settings}``; empty when nothing matches."""
        cached = self._cache.get(expression)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        status, answer = await self.upstream.json(
            "GET", f"/{quote(expression, safe=',*')}/_mapping"
        )
        found: dict[str, JSONObject] = {}
        if status == 200 and isinstance(answer, dict):
            for name, entry in answer.items():
                mappings = entry.get("mappings") or {}
                found[name] = dict((mappings.get("_meta") or {}).get("neuralpipe") or {})
        elif status == 404 and _concrete(expression):
            templated = await self._from_templates(expression)
            if templated:  # the index a write will create, with its templates' settings
                found[expression] = templated
        self._cache[expression] = (time.monotonic() + self.ttl, found)
        return found

    async def _from_templates(self, name: str) -> JSONObject:
        """``_meta.neuralpipe`` an index created now would get from its templates: the
        composable one (the node resolves it), else the legacy ones by ``order``."""
        status, answer = await self.upstream.json(
            "POST", f"/_index_template/_simulate_index/{quote(name, safe='')}"
        )
        if status == 200 and isinstance(answer, dict) and answer.get("template"):
            mappings = answer["template"].get("mappings") or {}
            return dict((mappings.get("_meta") or {}).get("neuralpipe") or {})
        status, legacy = await self.upstream.json("GET", "/_template")
        merged: JSONObject = {}
        if status == 200 and isinstance(legacy, dict):
            matching = [t for t in legacy.values() if isinstance(t, dict) and any(
                fnmatch.fnmatchcase(name, p) for p in t.get("index_patterns") or [])]  # fmt: skip
            for template in sorted(matching, key=lambda t: int(t.get("order") or 0)):
                meta = ((template.get("mappings") or {}).get("_meta") or {}).get("neuralpipe")
                merged.update(meta or {})
        return merged

    def cached(self, index: str, key: str) -> str | object | None:
        """:meth:`setting` when the cache has it (no await), else :data:`MISSING`."""
        cached = self._cache.get(index)
        if cached is None or cached[0] <= time.monotonic():
            return MISSING
        meta = cached[1]
        if len(meta) != 1:
            return None
        value = next(iter(meta.values())).get(key)
        return str(value) if value else None

    async def setting(self, index: str, key: str) -> str | None:
        """One neuralpipe setting of one index (``index.default_pipeline`` ...), or None."""
        meta = await self.of(index)
        if len(meta) != 1:
            return None
        value = next(iter(meta.values())).get(key)
        return str(value) if value else None


def _concrete(expression: str) -> bool:
    """One index name (no wildcard, list, ``_all`` or date math)."""
    return not any(ch in expression for ch in "*?,<") and not expression.startswith("_")
