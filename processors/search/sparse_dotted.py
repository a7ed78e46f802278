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

Example:
    >>> check = DottedFeatureCheck(client, "docs")  # doctest: +SKIP
    >>> check.present("text_sparse", ["3.14", "u.s"])  # doctest: +SKIP
    {'3.14'}
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)

PROBE_SUFFIX = "\x01"
"""Appended to a token: the probe is one edit away from the token, and no real term."""
OPTIONS = 100
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


def probe_body(wanted: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """One ``size: 0`` search body with a suggestion ``t<i>`` per ``(field, token)``."""
    suggest = {f"t{i}": probe_suggestion(field, token) for i, (field, token) in enumerate(wanted)}
    return {"size": 0, "track_total_hits": False, "suggest": suggest}


def read_probes(response: Any, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    """``(field, token) -> present`` from a probe response; unclear pairs are left out."""
    if not isinstance(response, Mapping):
        return {}
    shards = response.get("_shards")
    if not isinstance(shards, Mapping) or shards.get("failed", 1) != 0:
        return {}
    suggest = response.get("suggest")
    if not isinstance(suggest, Mapping):
        return {}
    answers: dict[tuple[str, str], bool] = {}
    for i, (field, token) in enumerate(wanted):
        entries = suggest.get(f"t{i}")
        if not isinstance(entries, list) or len(entries) != 1:
            continue
        options = entries[0].get("options") if isinstance(entries[0], Mapping) else None
        if not isinstance(options, list):
            continue
        texts = {o.get("text") for o in options if isinstance(o, Mapping)}
        if token in texts:
            answers[(field, token)] = True
        elif len(options) < OPTIONS:
            answers[(field, token)] = False
    return answers


class DottedFeatureCheck:
    """Answers "which of these dotted tokens does ``field`` have in ``index``", per request.

    Args:
        client: An opensearch-py client (``search``).
        index: The search target (an index, alias, pattern or list; ``None`` for all).

    Answers are kept for the life of the object (one request); a failed probe answers
    ``None`` (unknown: the caller keeps every token).

    Example:
        >>> DottedFeatureCheck(client, "docs").present("f", ["3.14"])  # doctest: +SKIP
        set()
    """

    def __init__(self, client: Any, index: str | None) -> None:
        self.client = client
        self.index = index
        self._known: dict[tuple[str, str], bool] = {}

    def present(self, field: str, tokens: Collection[str]) -> set[str] | None:
        """The ``tokens`` some document has as a feature of ``field``; ``None`` if unknown."""
        wanted = [(field, t) for t in dict.fromkeys(tokens) if (field, t) not in self._known]
        if wanted:
            self._known.update(self._probe(wanted))
        if any((field, t) not in self._known for t in tokens):
            return None
        return {t for t in tokens if self._known[(field, t)]}

    def _probe(self, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
        from opensearchpy.exceptions import OpenSearchException

        try:
            response = self.client.search(index=self.index, body=probe_body(wanted))
        except OpenSearchException as exc:
            log.debug("dotted-token probe failed (%s); scoring by script", exc)
            return {}
        return read_probes(response, wanted)
