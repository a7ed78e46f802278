"""Which dotted ``neural_sparse`` query tokens some document of the index actually has (§7.4).

Core ``rank_feature`` cannot address a feature whose name contains a dot (``"."``, ``"3.14"``,
``"u.s"``), so :mod:`processors.search.neural_sparse` scores such a query with an exact but
full-scan ``script_score``. A dotted token that no document has contributes nothing to the
plugin's score and matches nothing, so it can be dropped and the rest rewritten to the
``rank_feature`` clauses that score exactly like the plugin. Only a dotted token that some
document has needs the script.

Whether a feature exists is a question for the field's terms dictionary (a ``rank_features``
field indexes every key as a term of the field), and the one core API that reads a field's terms
without going through the field type is the ``term`` suggester. Asked to correct
``token + "\\x01"`` with ``max_edits: 1`` and ``prefix_length = len(token)``, it enumerates
only terms that start with ``token`` and lists ``token`` itself when some document of a shard has
it (deleted documents not yet merged away count too: the answer can be a false "present",
which costs speed, never a false "absent"). One ``size: 0`` search per rewrite asks for every
dotted token of every clause; nothing is cached, so writes never make an answer stale.
Where the answer is unclear (a shard failed, the option list is full) the token is kept.

A present token can still be scored by ``rank_feature`` when the index has the field's
dotted-feature mirror (:mod:`processors.ingest.sparse_mirror`): the same request also probes
the escaped token in the mirror, and each option carries the term's document frequency summed
over the shards. Every document neuralpipe wrote has the token in both fields, so when the two
frequencies are equal no document has it only in the original (one written by another client,
or rebuilt from ``_source`` by a partial update, which drops the mirror): the mirror is then
exact for that token (:attr:`DottedAnswer.mirrored`); otherwise the clause keeps the script.
A ``deferred`` check assumes the mirror exact without asking and lets the probe ride with the
search itself (:meth:`DottedFeatureCheck.deferred_probe`); :func:`without_deferred_probe`
confirms it on the node's answer and cuts it out (the proxy sends the request again, asking
first, when it does not confirm).

Example:
    >>> check = DottedFeatureCheck(client, "docs")  # doctest: +SKIP
    >>> check.present("text_sparse", ["3.14", "u.s"])  # doctest: +SKIP
    {'3.14'}
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from processors.ingest.sparse_mirror import escape, mirror_path

log = logging.getLogger(__name__)

PROBE_SUFFIX = "\x01"
"""Appended to a token: the probe is one edit away from the token, and no real term."""
OPTIONS = 100
DEFERRED_PREFIX = "np_dotted_"
"""The names of the suggestions a search carries for its own check (removed from its answer)."""
"""Suggestions asked per token (a full list means the answer is unclear: keep the token)."""


def probe_suggestion(field: str, token: str) -> dict[str, Any]:
    """The ``term`` suggestion that lists ``token`` when ``field`` has it as a term.

    Example:
        >>> probe_suggestion("f", "3.14")["term"]["prefix_length"]
        4
    """
    return {
        "text": token + PROBE_SUFFIX,
        "term": {
            "field": field,
            "analyzer": "keyword",  # the whole probe is one term
            "suggest_mode": "always",
            "max_edits": 1,
            "prefix_length": len(token),  # code points, as Lucene counts them
            "min_word_length": 1,
            "accuracy": 0.0,
            "max_term_freq": 2147483647.0,  # never skip the probe as "too frequent"
            "size": OPTIONS,
            "shard_size": OPTIONS,
        },
    }


def probe_body(wanted: Iterable[tuple[str, str]], prefix: str = "t") -> dict[str, Any]:
    """One ``size: 0`` search body with a suggestion ``<prefix><i>`` per ``(field, token)``."""
    suggest = {
        f"{prefix}{i}": probe_suggestion(field, token) for i, (field, token) in enumerate(wanted)
    }
    return {"size": 0, "track_total_hits": False, "suggest": suggest}


def read_probes(
    response: Any, wanted: list[tuple[str, str]], prefix: str = "t"
) -> dict[tuple[str, str], int]:
    """``(field, token) -> document frequency`` (0: absent) from a probe response; unclear
    pairs are left out."""
    if not isinstance(response, Mapping):
        return {}
    shards = response.get("_shards")
    if not isinstance(shards, Mapping) or shards.get("failed", 1) != 0:
        return {}
    suggest = response.get("suggest")
    if not isinstance(suggest, Mapping):
        return {}
    answers: dict[tuple[str, str], int] = {}
    for i, (field, token) in enumerate(wanted):
        entries = suggest.get(f"{prefix}{i}")
        if not isinstance(entries, list) or len(entries) != 1:
            continue
        options = entries[0].get("options") if isinstance(entries[0], Mapping) else None
        if not isinstance(options, list):
            continue
        freqs = {o.get("text"): o.get("freq") for o in options if isinstance(o, Mapping)}
        if token in freqs:
            freq = freqs[token]
            if isinstance(freq, int) and freq > 0:
                answers[(field, token)] = freq
        elif len(options) < OPTIONS:
            answers[(field, token)] = 0
    return answers


@dataclass(frozen=True)
class DottedAnswer:
    """Which dotted tokens of a clause some document has, and which of those the field's
    mirror holds exactly (``mirrored``, a subset of ``present``)."""

    present: frozenset[str]
    mirrored: frozenset[str] = dc_field(default_factory=frozenset)


class DottedFeatureCheck:
    """Answers "which of these dotted tokens does ``field`` have in ``index``", per request.

    Args:
        client: An opensearch-py client (``search``).
        index: The search target (an index, alias, pattern or list; ``None`` for all).
        mirrored: ``field -> whether every index of the target maps its mirror`` (probing
            an unmapped field fails the whole probe); None: no mirror is asked about.

    Answers are kept for the life of the object (one request); a failed probe answers
    ``None`` (unknown: the caller keeps every token).

    Example:
        >>> DottedFeatureCheck(client, "docs").present("f", ["3.14"])  # doctest: +SKIP
        set()
    """

    def __init__(
        self,
        client: Any,
        index: str | None,
        mirrored: Callable[[str], bool] | None = None,
        *,
        deferred: bool = False,
    ) -> None:
        self.client = client
        self.index = index
        self.mirrored = mirrored
        self.deferred = deferred
        """Answer a mirrored field's tokens without asking: all on the mirror, the probe
        going with the search itself (:meth:`deferred_probe`, checked by :meth:`confirmed`)."""
        self.assumed: list[tuple[str, str]] = []
        self._known: dict[tuple[str, str], int] = {}

    def present(self, field: str, tokens: Collection[str]) -> set[str] | None:
        """The ``tokens`` some document has as a feature of ``field``; ``None`` if unknown."""
        answer = self.answer(field, tokens)
        return None if answer is None else set(answer.present)

    def answer(self, field: str, tokens: Collection[str]) -> DottedAnswer | None:
        """The tokens ``field`` has, and those its mirror holds exactly; ``None`` if unknown."""
        mirror = self.mirrored is not None and self.mirrored(field)
        if mirror and self.deferred:  # assumed exact, confirmed on the search's answer
            unique = list(dict.fromkeys(tokens))
            for token in unique:
                self.assumed += [(field, token), (mirror_path(field), escape(token))]
            return DottedAnswer(frozenset(unique), frozenset(unique))
        pairs = [(field, t) for t in dict.fromkeys(tokens)]
        if mirror:
            pairs += [(mirror_path(field), escape(t)) for t in dict.fromkeys(tokens)]
        wanted = [p for p in pairs if p not in self._known]
        if wanted:
            self._known.update(self._probe(wanted))
        if any((field, t) not in self._known for t in tokens):
            return None
        present = frozenset(t for t in tokens if self._known[(field, t)] > 0)
        mirrors = {t: self._known.get((mirror_path(field), escape(t))) for t in present}
        exact = frozenset(t for t in present if mirror and mirrors[t] == self._known[(field, t)])
        return DottedAnswer(present, exact)

    def deferred_probe(self) -> dict[str, Any]:
        """The ``suggest`` section that checks the assumed tokens on the search itself."""
        suggest: dict[str, Any] = probe_body(self.assumed, DEFERRED_PREFIX)["suggest"]
        return suggest

    def confirmed(self, response: Any) -> bool:
        """Whether the search's answer (its ``_shards`` and ``suggest`` are enough) shows every
        assumed token mirrored exactly (equal document frequencies in the field and its
        mirror, absent ones included) with no shard failed."""
        found = read_probes(response, self.assumed, DEFERRED_PREFIX)
        pairs = zip(self.assumed[::2], self.assumed[1::2], strict=True)
        return all(o in found and found[o] == found.get(m) for o, m in pairs)

    def _probe(self, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        from opensearchpy.exceptions import OpenSearchException

        try:
            response = self.client.search(index=self.index, body=probe_body(wanted))
        except OpenSearchException as exc:
            log.debug("dotted-token probe failed (%s); scoring by script", exc)
            return {}
        return read_probes(response, wanted)


class MappedMirrors:
    """``target -> (field -> does every index of target that maps field map its mirror)``.

    One ``GET _mapping/field`` per target and field; a yes is kept (a mapping is never
    removed: an index deleted and made again without the mirror only makes the probe fail,
    and the clause scores by script), a no for ``ttl`` seconds.

    Example:
        >>> MappedMirrors(None).of("docs")("f")
        False
    """

    def __init__(self, client: Any, *, ttl: float = 2.0) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def of(self, index: str | None) -> Callable[[str], bool]:
        """The check for the search target ``index`` (``None``: all indices)."""
        target = index or "_all"
        return lambda field: self._mapped(target, field)

    def _mapped(self, target: str, field: str) -> bool:
        if self.client is None:
            return False
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get((target, field))
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self._read(target, field)
        with self._lock:
            self._cache[(target, field)] = (float("inf") if found else now + self.ttl, found)
        return found

    def _read(self, target: str, field: str) -> bool:
        from opensearchpy.exceptions import OpenSearchException

        mirror = mirror_path(field)
        try:
            answer = self.client.indices.get_field_mapping(index=target, fields=f"{field},{mirror}")
        except OpenSearchException as exc:
            log.debug("mapping of %s's mirror unknown (%s); scoring by script", field, exc)
            return False
        seen = False
        for entry in answer.values() if isinstance(answer, Mapping) else ():
            mappings = entry.get("mappings") or {} if isinstance(entry, Mapping) else {}
            if field not in mappings:
                continue
            shown = (mappings.get(mirror) or {}).get("mapping", {})
            types = [m.get("type") for m in shown.values()]
            if types != ["rank_features"]:
                return False
            seen = True
        return seen


_SHARDS = '"_shards":'
_DEFERRED = ',"suggest":{"' + DEFERRED_PREFIX


def without_deferred_probe(content: bytes, check: DottedFeatureCheck) -> bytes | None:
    """A search answer (compact JSON, as the node sends it) without the deferred probe's
    ``suggest`` section, when that section confirms every assumed token; ``None`` otherwise
    (not confirmed, a shard failed, or the answer not in the expected form).

    Only the two small sections are parsed; the hits go back as the node wrote them.

    Example:
        >>> check = DottedFeatureCheck(None, "i", lambda f: True, deferred=True)
        >>> check.answer("f", ["."]).mirrored
        frozenset({'.'})
        >>> opt = lambda t: [{"text": t + "\\u0001", "options": [{"text": t, "freq": 3}]}]
        >>> body = json.dumps({"took": 1, "_shards": {"failed": 0}, "hits": {},
        ...     "suggest": {"np_dotted_0": opt("."), "np_dotted_1": opt("%2E")}},
        ...     separators=(",", ":")).encode()
        >>> without_deferred_probe(body, check)
        b'{"took":1,"_shards":{"failed":0},"hits":{}}'
    """
    try:
        text = content.decode()
    except UnicodeDecodeError:
        return None
    start = text.find(_SHARDS)
    at = text.rfind(_DEFERRED)
    if start < 0 or at < 0:
        return None
    decoder = json.JSONDecoder()
    try:
        shards, _ = decoder.raw_decode(text, start + len(_SHARDS))
        suggest, end = decoder.raw_decode(text, at + len(',"suggest":'))
    except ValueError:
        return None
    if not check.confirmed({"_shards": shards, "suggest": suggest}):
        return None
    return (text[:at] + text[end:]).encode()
