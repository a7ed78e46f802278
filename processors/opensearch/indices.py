"""Index bodies from ``mappings/``: read, check, create, delete.

A mapping file is exactly the body of ``PUT /<index>`` (JSON, or YAML). Two settings name
pipelines that only neuralpipe knows, so they are taken out of the body sent to the node and
kept in the index's ``_meta.neuralpipe``: ``index.default_pipeline`` and
``index.search.default_pipeline``.

Example:
    >>> body = load_mapping(Path("mappings/dense.json"))      # doctest: +SKIP
    >>> create_index(client, "docs", body, embedded=True)     # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from processors.bodies import read_body
from processors.errors import ConfigError

JSONObject = dict[str, Any]

NATIVE_ENGINES = ("faiss", "nmslib")
"""k-NN engines that need native libraries the Maven Central k-NN zip does not ship."""

PIPELINE_SETTINGS = ("default_pipeline", "search.default_pipeline")


def load_mapping(path: Path) -> JSONObject:
    """Read an index body; a clear ``ConfigError`` naming the file when it is not one."""
    body = read_body(path)
    if not isinstance(body, dict):
        raise ConfigError(f"{path}: an index body must be an object with settings/mappings")
    unknown = sorted(set(body) - {"settings", "mappings", "aliases"})
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level keys {unknown}; allowed: settings, mappings, aliases"
        )
    return body


def shipped_mappings() -> list[str]:
    """Names of the index bodies shipped in the project's ``mappings/`` (without ``.json``)."""
    from processors.settings import project_dir

    return sorted(p.stem for p in (project_dir() / "mappings").glob("*.json"))


def resolve_mapping(value: str | Path) -> Path:
    """An index body file: ``value`` as a path when it exists, else a shipped mapping by name.

    ``combined``, ``combined.json`` and ``mappings/combined.json`` all name the project's
    ``mappings/combined.json``, whatever the current directory.

    Example:
        >>> resolve_mapping("combined-english").name
        'combined-english.json'
    """
    from processors.settings import project_dir

    given = Path(value)
    if given.is_file():
        return given
    folder = project_dir() / "mappings"
    for candidate in (folder / given.name, folder / f"{given.name}.json"):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"mapping {str(value)!r}: no such file, and not a shipped mapping "
        f"(shipped: {', '.join(shipped_mappings())})"
    )


def with_bm25(body: JSONObject, *, k1: float | None = None, b: float | None = None) -> JSONObject:
    """``body`` with the default similarity's BM25 ``k1`` / ``b`` set (unchanged when both are
    None). The similarity is static: it takes effect when the index is created.

    Example:
        >>> with_bm25({"settings": {}}, k1=0.9, b=0.4)["settings"]["index"]["similarity"]
        {'default': {'type': 'BM25', 'k1': 0.9, 'b': 0.4}}
    """
    if k1 is None and b is None:
        return body
    body = json.loads(json.dumps(body))
    settings = body.setdefault("settings", {})
    if "index.similarity.default.k1" in settings or "index.similarity.default.b" in settings:
        raise ConfigError("give BM25 k1/b either in the mapping (flat keys) or as options")
    index_settings = settings.setdefault("index", {})
    default = index_settings.setdefault("similarity", {}).setdefault("default", {})
    default.setdefault("type", "BM25")
    if default["type"] != "BM25":
        raise ConfigError(f"the mapping's default similarity is {default['type']!r}, not BM25")
    if k1 is not None:
        default["k1"] = k1
    if b is not None:
        default["b"] = b
    return body


def knn_fields(body: JSONObject) -> dict[str, JSONObject]:
    """``{dotted field path: field mapping}`` of every ``knn_vector`` field in the body."""
    return {
        p: f for p, f in _walk_properties(body.get("mappings", {})) if f.get("type") == "knn_vector"
    }


def _walk_properties(mapping: JSONObject, prefix: str = "") -> list[tuple[str, JSONObject]]:
    found: list[tuple[str, JSONObject]] = []
    for name, field in (mapping.get("properties") or {}).items():
        path = f"{prefix}{name}"
        found.append((path, field))
        found.extend(_walk_properties(field, f"{path}."))
    return found


def check_for_embedded_node(body: JSONObject, source: str = "mapping") -> JSONObject:
    """The body made safe for the embedded node, whose k-NN has no native libraries.

    An explicit ``faiss`` / ``nmslib`` engine, or a ``mode`` / ``compression_level`` (which
    imply ``faiss``), is refused: indexing would kill the node. A ``knn_vector`` that names no
    engine would get the k-NN default (``faiss`` on 3.x, ``nmslib`` on 2.x) and kill the node at
    its first write, so it gets ``method: {name: hnsw, engine: lucene}`` with its ``space_type``.

    >>> body = {"mappings": {"properties": {"v": {"type": "knn_vector", "dimension": 3,
    ...         "space_type": "innerproduct"}}}}
    >>> check_for_embedded_node(body)["mappings"]["properties"]["v"]["method"]
    {'name': 'hnsw', 'engine': 'lucene', 'space_type': 'innerproduct'}
    """
    body = json.loads(json.dumps(body))
    for path, field in knn_fields(body).items():
        method = field.get("method") or {}
        engine = method.get("engine")
        native = [k for k in ("mode", "compression_level") if k in field]
        if engine in NATIVE_ENGINES or native:
            what = f"method.engine: '{engine}'" if engine in NATIVE_ENGINES else native[0]
            raise ConfigError(
                f"{source}: mappings.properties.{path}.{what} needs native "
                "libraries the local node does not have (indexing would kill the node); "
                "use engine 'lucene'"
            )
        if engine is None and "model_id" not in field:
            space = method.get("space_type") or field.pop("space_type", None)
            field["method"] = {"name": method.get("name", "hnsw"), "engine": "lucene"}
            if space:
                field["method"]["space_type"] = space
            if method.get("parameters"):
                field["method"]["parameters"] = method["parameters"]
    return body


def split_pipeline_settings(
    body: JSONObject, names: tuple[str, ...] = PIPELINE_SETTINGS
) -> tuple[JSONObject, dict[str, Any]]:
    """The body without neuralpipe-only pipeline settings, and those settings.

    Every form OpenSearch accepts is found: flat or nested, with or without the ``index.``
    prefix (``index.default_pipeline``, ``default_pipeline``, ``{"index": {"search":
    {"default_pipeline": ...}}}``, ``"index.search": {...}``); they are returned as
    ``index.<name>``, and the containers they leave empty are removed.

    Example:
        >>> body, taken = split_pipeline_settings({"settings": {"index": {
        ...     "search.default_pipeline": "h", "knn": True}}})
        >>> body["settings"], taken
        ({'index': {'knn': True}}, {'index.search.default_pipeline': 'h'})
    """
    body = json.loads(json.dumps(body))
    settings = body.get("settings")
    taken: dict[str, Any] = {}
    if isinstance(settings, dict):
        _take_settings(settings, "", names, taken)
    if taken:
        meta = body.setdefault("mappings", {}).setdefault("_meta", {})
        meta.setdefault("neuralpipe", {}).update(taken)
    return body, taken


def _take_settings(
    container: JSONObject, prefix: str, names: tuple[str, ...], taken: dict[str, Any]
) -> None:
    for key in list(container):
        value = container[key]
        full = f"{prefix}{key}"
        name = full.removeprefix("index.")
        if name in names and not isinstance(value, dict):
            taken[f"index.{name}"] = container.pop(key)
        elif isinstance(value, dict) and value:
            _take_settings(value, f"{full}.", names, taken)
            if not value:
                del container[key]


def create_index(client: Any, name: str, body: JSONObject, *, embedded: bool) -> JSONObject:
    """Create ``name`` from an index body (checked, pipeline settings moved to ``_meta``)."""
    if embedded:
        body = check_for_embedded_node(body, source=name)
    sent, _ = split_pipeline_settings(body)
    result: JSONObject = client.indices.create(index=name, body=sent)
    return result


def delete_index(client: Any, name: str) -> JSONObject:
    """Delete one index by its exact name (wildcards refused)."""
    if any(ch in name for ch in "*?,") or name.startswith("_"):
        raise ConfigError(f"refusing to delete '{name}': give one exact index name")
    result: JSONObject = client.indices.delete(index=name)
    return result


def default_pipeline_of(client: Any, index: str) -> str | None:
    """``index.default_pipeline`` of an index: its own setting, or the one neuralpipe kept in
    ``_meta.neuralpipe`` at creation (the node cannot hold a pipeline it does not run)."""
    if not client.indices.exists(index=index):
        return None
    mapping = next(iter(client.indices.get_mapping(index=index).values()))["mappings"]
    kept = ((mapping.get("_meta") or {}).get("neuralpipe") or {}).get("index.default_pipeline")
    if kept:
        return str(kept)
    settings = next(iter(client.indices.get_settings(index=index).values()))["settings"]
    value = (settings.get("index") or {}).get("default_pipeline")
    return str(value) if value and value != "_none" else None
