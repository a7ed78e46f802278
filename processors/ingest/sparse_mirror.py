"""The dotted-feature mirror of a ``rank_features`` field: ``"3.14"`` that ``rank_feature`` finds.

Core ``rank_feature`` splits ``<field>.<feature>`` at the last dot, so a feature whose name has a
dot (``"."``, ``"3.14"``) cannot be queried, and a ``neural_sparse`` clause with such a token
falls back to a full-scan ``script_score`` (:mod:`processors.search.neural_sparse`). An index
created through neuralpipe therefore gets, next to every ``rank_features`` field ``f``, a hidden
sibling ``rank_features`` field ``f__np_dotted`` (:func:`add_mirrors`): whenever neuralpipe writes
a document to such an index (ingest pipelines, ``semantic`` fields, ``_bulk``/``_doc`` through
the proxy, ``neuralpipe index bulk``), it also writes the dotted features of ``f`` there under
escaped names without a dot (:func:`escape`; same float value, so the same ``FeatureField``
encoding and score) (:func:`add_mirror`). The mirror is left out of the stored ``_source``
(``_source.excludes``): hits never show it, and any write that rebuilds a document from
``_source`` (a partial ``_update`` on the node, a reindex) drops it, which the query side sees
as a document-frequency mismatch and answers by script (:mod:`processors.search.sparse_dotted`).
A filtered ``_source`` makes the node keep a second, unfiltered copy of every document
(``_recovery_source``, for operation-based peer recovery; pruned by merges only after the
soft-delete retention, 12 h by default) in which the ``knn_vector`` fields are stored whole,
as k-NN's derived source strips them from ``_source`` only: the index of
``scripts/bench/vs_plugins.py`` took 3.4x the plugins' disk. When the user's mapping has no
``_source`` filter of its own, the mirror's exclusion therefore comes with
``_source.recovery_source_enabled: false`` (recorded in ``_meta.neuralpipe`` and hidden like the
rest): operations replayed by a peer recovery then lose only the mirror, which the
frequency check answers by script, as for a partial update.
The mirrored paths are kept in ``_meta.neuralpipe.dotted_mirror`` (``{path: mirror path}``);
the proxy's ``GET _mapping`` shows the mapping without them (:func:`shown_without_mirrors`).

Example:
    >>> escape("3.14"), unescape(escape("100%.x"))
    ('3%2E14', '100%.x')
    >>> doc = {"f": {"hi": 1.0, ".": 0.5}}
    >>> add_mirror(doc, {"f": "f__np_dotted"}); doc
    {'f': {'hi': 1.0, '.': 0.5}, 'f__np_dotted': {'%2E': 0.5}}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

JSONObject = dict[str, Any]
SUFFIX = "__np_dotted"
"""A mirror's name: its field's name and this."""
META_KEY = "dotted_mirror"
"""The key of ``_meta.neuralpipe`` holding ``{rank_features path: mirror path}``."""
RECOVERY_KEY = "dotted_mirror_recovery_source_off"
"""The key of ``_meta.neuralpipe`` saying the mirrors turned ``_recovery_source`` off."""
_ESCAPES = {"%": "%25", ".": "%2E"}
_UNESCAPE = re.compile(r"%(25|2E)")


def escape(token: str) -> str:
    """``token`` without dots, reversibly (``%`` -> ``%25``, ``.`` -> ``%2E``).

    >>> escape("u.s."), escape("%2E")
    ('u%2Es%2E', '%252E')
    """
    return "".join(_ESCAPES.get(c, c) for c in token)


def unescape(name: str) -> str:
    """The token :func:`escape` made ``name`` from.

    >>> unescape("%252E"), unescape("u%2Es")
    ('%2E', 'u.s')
    """
    return _UNESCAPE.sub(lambda m: "%" if m.group(1) == "25" else ".", name)


def mirror_path(path: str) -> str:
    """The mirror field of the ``rank_features`` field at ``path``.

    >>> mirror_path("doc.text_sparse")
    'doc.text_sparse__np_dotted'
    """
    return path + SUFFIX


def add_mirrors(mappings: JSONObject) -> dict[str, str]:
    """Give every ``rank_features`` field of ``mappings`` its mirror, in place; the added
    ``{path: mirror path}`` (also in ``_meta.neuralpipe.dotted_mirror``, and the mirrors in
    ``_source.excludes``, with ``recovery_source_enabled: false`` when the user's ``_source``
    had no filter and no recovery option of its own). A field whose mirror name is taken, a
    ``sparse_vector`` field (token ids, no dots) and a mapping with ``_source`` disabled get
    none.

    >>> m = {"properties": {"f": {"type": "rank_features"}, "t": {"type": "text"}}}
    >>> add_mirrors(m)
    {'f': 'f__np_dotted'}
    >>> m["properties"]["f__np_dotted"], m["_source"]
    ({'type': 'rank_features'}, {'excludes': ['f__np_dotted'], 'recovery_source_enabled': False})
    """
    source = mappings.get("_source")
    if isinstance(source, dict) and source.get("enabled") is False:
        return {}
    added: dict[str, str] = {}
    _walk(mappings.get("properties"), "", added)
    if not added:
        return added
    source = mappings.setdefault("_source", {})
    excludes = source.get("excludes")
    if not isinstance(excludes, list):
        excludes = [] if excludes is None else [excludes]
    own_choice = bool(excludes or source.get("includes")) or any(
        key.startswith("recovery_source") for key in source
    )
    source["excludes"] = excludes + [m for m in added.values() if m not in excludes]
    meta = mappings.setdefault("_meta", {}).setdefault("neuralpipe", {})
    meta.setdefault(META_KEY, {}).update(added)
    if not own_choice:
        source["recovery_source_enabled"] = False
        meta[RECOVERY_KEY] = True
    return added


def _walk(properties: Any, prefix: str, added: dict[str, str]) -> None:
    if not isinstance(properties, dict):
        return
    for name, spec in list(properties.items()):
        if not isinstance(spec, dict):
            continue
        if spec.get("type") == "rank_features" and not name.endswith(SUFFIX):
            mirror = name + SUFFIX
            if mirror not in properties:
                properties[mirror] = {"type": "rank_features"}
                added[prefix + name] = prefix + mirror
        _walk(spec.get("properties"), f"{prefix}{name}.", added)


def mirrors_of(ours: Mapping[str, Any] | None) -> dict[str, str]:
    """``{path: mirror path}`` from an index's ``_meta.neuralpipe`` (empty: no mirror)."""
    found = (ours or {}).get(META_KEY)
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def mirrors_in(client: Any, index: str) -> dict[str, str]:
    """The mirrors of the index ``index`` names, read from its mapping's ``_meta`` (none
    when there is no such index yet)."""
    from opensearchpy.exceptions import NotFoundError

    found: dict[str, str] = {}
    try:
        answer = client.indices.get_mapping(index=index)
    except NotFoundError:
        return found
    for entry in answer.values():
        meta = ((entry.get("mappings") or {}).get("_meta") or {}).get("neuralpipe")
        found.update(mirrors_of(meta if isinstance(meta, dict) else None))
    return found


def add_mirror(source: Any, mirrors: Mapping[str, str]) -> None:
    """Write the dotted features of every mirrored field of ``source`` into its mirror, in
    place (a mirror already there is replaced; one with no dotted feature is removed).

    >>> doc = {"a": [{"f": {"x.y": 2}}, {"f": {"x": 1}, "f__np_dotted": {"old": 1}}]}
    >>> add_mirror(doc, {"a.f": "a.f__np_dotted"}); doc["a"]
    [{'f': {'x.y': 2}, 'f__np_dotted': {'x%2Ey': 2}}, {'f': {'x': 1}}]
    """
    if not isinstance(source, dict):
        return
    for path, mirror in mirrors.items():
        last, mirror_last = path.rsplit(".", 1)[-1], mirror.rsplit(".", 1)[-1]
        holders = _holders(source, path.split(".")[:-1])
        if path in source and "." in path:  # a flat dotted key: {"a.f": {...}}
            holders.append(source)
            last, mirror_last = path, mirror
        for holder in holders:
            value = holder.get(last)
            dotted = (
                {escape(k): v for k, v in value.items() if "." in k}
                if isinstance(value, dict)
                else {}
            )
            if dotted:
                holder[mirror_last] = dotted
            else:
                holder.pop(mirror_last, None)


def _holders(source: JSONObject, parts: list[str]) -> list[JSONObject]:
    holders: list[Any] = [source]
    for part in parts:
        nxt: list[Any] = []
        for holder in holders:
            value = holder.get(part) if isinstance(holder, dict) else None
            nxt += value if isinstance(value, list) else [value]
        holders = nxt
    return [h for h in holders if isinstance(h, dict)]


def shown_without_mirrors(mappings: JSONObject) -> JSONObject:
    """``mappings`` as the user made them: no mirror fields, no added ``_source.excludes`` or
    ``recovery_source_enabled``, no ``_meta.neuralpipe`` entries of the mirrors (``mappings``
    itself is left as it was).

    >>> m = {"properties": {"f": {"type": "rank_features"}}}
    >>> _ = add_mirrors(m)
    >>> shown_without_mirrors(m)
    {'properties': {'f': {'type': 'rank_features'}}}
    """
    meta = mappings.get("_meta")
    ours = meta.get("neuralpipe") if isinstance(meta, dict) else None
    mirrors = mirrors_of(ours if isinstance(ours, dict) else None)
    if not mirrors:
        return mappings
    shown = dict(mappings)
    shown["properties"] = _without(mappings.get("properties"), set(mirrors.values()), "")
    source = shown.get("_source")
    if isinstance(source, dict) and isinstance(source.get("excludes"), list):
        kept = [e for e in source["excludes"] if e not in mirrors.values()]
        added = ["excludes"]
        if isinstance(ours, dict) and ours.get(RECOVERY_KEY):
            added.append("recovery_source_enabled")
        source = {k: v for k, v in source.items() if k not in added}
        if kept:
            source["excludes"] = kept
        if source:
            shown["_source"] = source
        else:
            shown.pop("_source")
    put_meta_without(shown, meta, (META_KEY, RECOVERY_KEY))
    return shown


def put_meta_without(shown: dict[str, Any], meta: Any, hidden: tuple[str, ...]) -> None:
    """Set ``shown["_meta"]`` to ``meta`` less the ``hidden`` keys of its ``neuralpipe``
    entry (an entry left empty goes, and so does an empty ``_meta``).

    >>> shown = {"_meta": {}}
    >>> put_meta_without(shown, {"neuralpipe": {"dotted_mirror": {}}, "a": 1}, ("dotted_mirror",))
    >>> shown
    {'_meta': {'a': 1}}
    """
    ours = meta.get("neuralpipe") if isinstance(meta, dict) else None
    rest = {k: v for k, v in (ours if isinstance(ours, dict) else {}).items() if k not in hidden}
    shown_meta = {k: v for k, v in (meta if isinstance(meta, dict) else {}).items()
                  if k != "neuralpipe"}  # fmt: skip
    if rest:
        shown_meta["neuralpipe"] = rest
    if shown_meta:
        shown["_meta"] = shown_meta
    else:
        shown.pop("_meta", None)


def _without(properties: Any, mirrors: set[str], prefix: str) -> Any:
    if not isinstance(properties, dict):
        return properties
    out: JSONObject = {}
    for name, spec in properties.items():
        if prefix + name in mirrors:
            continue
        if isinstance(spec, dict) and isinstance(spec.get("properties"), dict):
            spec = {**spec, "properties": _without(spec["properties"], mirrors, f"{prefix}{name}.")}
        out[name] = spec
    return out
