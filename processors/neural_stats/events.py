"""Event counters of neural-search's stats API, counted where neuralpipe does the plugin's work.

As in the plugin, events are counted only while ``plugins.neural_search.stats_enabled`` is on
(:data:`EVENTS` ``.enabled``, set by the proxy when it reads or writes that setting). Each
counter keeps its total, the events of the trailing 5 minutes and the time of the last one.

Example:
    >>> events = EventCounters()
    >>> events.enabled = True
    >>> events.increment("neural_query_requests")
    >>> events.snapshot("neural_query_requests").value
    1
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

TRAILING_SECONDS = 5 * 60

EVENT_PATHS = (
    "query.hybrid.hybrid_query_with_pagination_requests",
    "query.hybrid.hybrid_query_with_filter_requests",
    "query.hybrid.hybrid_query_with_inner_hits_requests",
    "query.hybrid.hybrid_query_requests",
    "query.neural.neural_query_against_semantic_sparse_requests",
    "query.neural.neural_query_requests",
    "query.neural.neural_query_against_semantic_dense_requests",
    "query.neural.neural_query_against_knn_requests",
    "query.agentic.agentic_query_requests",
    "query.neural_sparse.neural_sparse_query_requests",
    "query.neural_sparse.seismic_query_requests",
    "semantic_highlighting.semantic_highlighting_request_count",
    "semantic_highlighting.semantic_highlighting_batch_request_count",
    "processors.search.neural_sparse_two_phase_executions",
    "processors.search.hybrid.comb_harmonic_executions",
    "processors.search.hybrid.norm_zscore_executions",
    "processors.search.hybrid.comb_rrf_executions",
    "processors.search.hybrid.norm_l2_executions",
    "processors.search.hybrid.rank_based_normalization_processor_executions",
    "processors.search.hybrid.comb_arithmetic_executions",
    "processors.search.hybrid.normalization_processor_executions",
    "processors.search.hybrid.comb_geometric_executions",
    "processors.search.hybrid.norm_minmax_executions",
    "processors.search.rerank_by_field_executions",
    "processors.search.neural_query_enricher_executions",
    "processors.search.mmr_neural_query_transformer_executions",
    "processors.search.rerank_ml_executions",
    "processors.search.agentic.agentic_query_translator_executions",
    "processors.search.agentic.agentic_context_executions",
    "processors.ingest.skip_existing_executions",
    "processors.ingest.text_chunking_fixed_token_length_executions",
    "processors.ingest.sparse_encoding_executions",
    "processors.ingest.text_chunking_fixed_char_length_executions",
    "processors.ingest.text_chunking_executions",
    "processors.ingest.text_embedding_executions",
    "processors.ingest.semantic_field_executions",
    "processors.ingest.sparse_encoding_seismic_executions",
    "processors.ingest.semantic_field_chunking_executions",
    "processors.ingest.text_chunking_delimiter_executions",
    "processors.ingest.text_image_embedding_executions",
)
"""The plugin's 3.6 event stats, by path (the last part is the stat's name)."""
EVENT_NAMES = {path.rsplit(".", 1)[-1]: path for path in EVENT_PATHS}


@dataclass(frozen=True)
class EventSnapshot:
    """One counter as the API shows it (``include_metadata`` adds the last two)."""

    value: int
    trailing_interval_value: int
    minutes_since_last_event: int


class EventCounters:
    """Thread-safe counters by stat name; increments are ignored while not ``enabled``."""

    def __init__(self) -> None:
        self.enabled = False
        self._lock = threading.Lock()
        self._totals: dict[str, int] = {}
        self._recent: dict[str, deque[float]] = {}
        self._last: dict[str, float] = {}

    def increment(self, name: str, count: int = 1) -> None:
        """Count ``count`` events of ``name`` (a key of :data:`EVENT_NAMES`)."""
        if not self.enabled or count <= 0:
            return
        if name not in EVENT_NAMES:
            raise KeyError(name)
        now = time.time()
        with self._lock:
            self._totals[name] = self._totals.get(name, 0) + count
            recent = self._recent.setdefault(name, deque())
            recent.extend([now] * count)
            self._last[name] = now

    def snapshot(self, name: str) -> EventSnapshot:
        """The counter now."""
        now = time.time()
        with self._lock:
            recent = self._recent.get(name, deque())
            while recent and recent[0] < now - TRAILING_SECONDS:
                recent.popleft()
            last = self._last.get(name, 0.0)
            return EventSnapshot(self._totals.get(name, 0), len(recent), int((now - last) // 60))


EVENTS = EventCounters()
"""The counters of this process (one proxy, or one ``neuralpipe`` command)."""


def increment(name: str, count: int = 1) -> None:
    """Count an event in :data:`EVENTS`."""
    EVENTS.increment(name, count)
