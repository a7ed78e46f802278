"""``skip_existing`` on ``text_embedding`` and ``sparse_encoding``: stored outputs reused.

A document is stored on both nodes with made-up outputs (so a reused output is told from a
computed one); ``_simulate`` with its ``_index``/``_id`` and the same input must copy them,
with a changed input or another id must infer.
"""

from __future__ import annotations

import copy

from tests.differential.harness.compare import Case
from tests.differential.harness.sides import ONNX, TOKENIZER, JSONObject, Sides, judge

PIPELINE = {
    "processors": [
        {"text_embedding": {"model_id": ONNX, "field_map": {"text": "emb"},
                            "skip_existing": True}},
        {"sparse_encoding": {"model_id": TOKENIZER, "field_map": {"text": "sp"},
                             "skip_existing": True}},
    ]
}  # fmt: skip
MAPPING = {
    "settings": {"index.knn": True},
    "mappings": {"properties": {
        "text": {"type": "text"}, "sp": {"type": "rank_features"},
        "emb": {"type": "knn_vector", "dimension": 384,
                "method": {"name": "hnsw", "engine": "lucene", "space_type": "l2"}},
    }},
}  # fmt: skip
STORED = {"text": "wing lift", "emb": [0.5] * 384, "sp": {"fake": 9.0}}


def skip_existing_cases(sides: Sides) -> list[Case]:
    """Stored outputs copied for unchanged inputs, on both sides."""
    index = f"{sides.index}-skip"
    sides.ref("DELETE", f"/{index}")
    sides.client.indices.delete(index=index, ignore_unavailable=True)
    try:
        sides.ref("PUT", f"/{index}", MAPPING)
        sides.ref("PUT", f"/{index}/_doc/1", STORED, refresh="true")
        sides.client.indices.create(index=index, body=MAPPING)
        sides.client.index(index=index, id="1", body=STORED, refresh=True)
        docs: list[JSONObject] = [
            {"_index": index, "_id": "1", "_source": {"text": "wing lift"}},
            {"_index": index, "_id": "1", "_source": {"text": "shock waves"}},
            {"_index": index, "_id": "2", "_source": {"text": "wing lift"}},
        ]
        case = Case("ingest", "skip_existing: unchanged input copies stored outputs")
        ref = sides.ref("POST", "/_ingest/pipeline/_simulate",
                        {"pipeline": sides.to_ref(PIPELINE), "docs": docs})  # fmt: skip
        ours = sides.ours(lambda: sides.simulate(PIPELINE, copy.deepcopy(docs)))
        judge(case, sides, ref, ours)
        if ours[0] == 200 and ours[1]["docs"][0]["doc"]["_source"]["sp"] != {"fake": 9.0}:
            case.differences.append("neuralpipe did not reuse the stored output")
        return [case]
    finally:
        sides.ref("DELETE", f"/{index}")
        sides.client.indices.delete(index=index, ignore_unavailable=True)
