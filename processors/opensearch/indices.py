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

from processors.errors import ConfigError

JSONObject = dict[str, Any]

NATIVE_ENGINES = ("faiss", "nmslib")
"""k-NN engines that need native libraries the Maven Central k-NN zip does not ship."""

PIPELINE_SETTINGS = ("default_pipeline", "search.default_pipeline")


def load_mapping(path: Path) -> JSONObject:
    """Read an index body; a clear ``ConfigError`` naming the file when it is not one."""
    from processors.config.ingest_body import read_body

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


def check_for_embedded_node(body: JSONObject, source: str = "mapping") -> None:
    """Refuse what would crash the embedded node: k-NN engines without native libraries."""
    for path, field in knn_fields(body).items():
        engine = (field.get("method") or {}).get("engine")
        if engine in NATIVE_ENGINES:
            raise ConfigError(
                f"{source}: mappings.properties.{path}.method.engine: '{engine}' needs native "
                "libraries the local node does not have (indexing would kill the node); "
                "use engine 'lucene'"
            )


def split_pipeline_settings(body: JSONObject) -> tuple[JSONObject, dict[str, str]]:
    """The body without neuralpipe-only pipeline settings, and those settings."""
    body = json.loads(json.dumps(body))
    settings: JSONObject = body.get("settings") or {}
    taken: dict[str, str] = {}
    nested_index = settings.get("index")
    index_settings: JSONObject = nested_index if isinstance(nested_index, dict) else {}
    for key in PIPELINE_SETTINGS:
        for container, name in ((settings, f"index.{key}"), (index_settings, key)):
            if name in container:
                taken[f"index.{key}"] = container.pop(name)
        if key == "search.default_pipeline" and isinstance(index_settings.get("search"), dict):
            nested = index_settings["search"]
            if "default_pipeline" in nested:
                taken["index.search.default_pipeline"] = nested.pop("default_pipeline")
    if taken:
        meta = body.setdefault("mappings", {}).setdefault("_meta", {})
        meta.setdefault("neuralpipe", {}).update(taken)
    return body, taken


def create_index(client: Any, name: str, body: JSONObject, *, embedded: bool) -> JSONObject:
    """Create ``name`` from an index body (checked, pipeline settings moved to ``_meta``)."""
    if embedded:
        check_for_embedded_node(body, source=name)
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
