"""Asymmetric models on both nodes: ``model_config.query_prefix`` / ``passage_prefix`` (issue #17).

The all-MiniLM-L6-v2 ONNX zip is registered once more with the two prefixes in its
``model_config`` (ml-commons 2.16+ reads them; an asymmetric model's ``_predict`` must say which
side it embeds with ``parameters.content_type`` ``query`` or ``passage``). Cases: the register
answer's ``model_config``, ``_predict`` on each side and without a side, ``text_embedding`` on
ingest (the plugin asks for the passage side) and ``neural`` (the query side) over the corpus of
:mod:`.search_cases`, embedded by the plain model.

neuralpipe's side reads the same register body from a temporary ``models/`` folder
(:func:`asymmetric_settings`); the reference node gets it through
:class:`processors.opensearch.reference_models.ReferenceModels`.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from processors.settings import Settings
from tests.differential.harness.compare import Case, compare_hits, compare_json
from tests.differential.harness.known import KNOWN
from tests.differential.harness.sides import ONNX, JSONObject, Sides, judge

ASYMMETRIC = "all-minilm-l6-v2-asymmetric"
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "
TEXTS = ["lift on a swept wing", "Shock waves form near Mach one."]


def asymmetric_body(settings: Settings) -> JSONObject:
    """The ONNX model's register body with the two prefixes (an absolute ``file:`` url)."""
    body: JSONObject = yaml.safe_load(
        (settings.pipelines_dir / "models" / f"{ONNX}.yaml").read_text()
    )
    body["name"] = ASYMMETRIC
    body["model_config"] = {
        **body["model_config"],
        "query_prefix": QUERY_PREFIX,
        "passage_prefix": PASSAGE_PREFIX,
    }
    zip_name = str(body["url"]).removeprefix("file:")
    body["url"] = f"file:{settings.home / 'models' / zip_name}"
    return body


@contextmanager
def asymmetric_settings(settings: Settings) -> Iterator[Settings]:
    """``settings`` whose ``pipelines_dir/models`` holds only :data:`ASYMMETRIC`'s body."""
    with tempfile.TemporaryDirectory(prefix="neuralpipe-asym-") as folder:
        models = Path(folder) / "models"
        models.mkdir()
        (models / f"{ASYMMETRIC}.yaml").write_text(yaml.safe_dump(asymmetric_body(settings)))
        yield settings.model_copy(update={"pipelines_dir": Path(folder)})


def _register_on_reference(settings: Settings) -> str:
    from processors.opensearch.reference import ReferenceNode
    from processors.opensearch.reference_models import ReferenceModels

    node = ReferenceNode.from_settings(settings)
    return ReferenceModels(node, settings).register(ASYMMETRIC)


def _config_of(answer: Any) -> Any:
    """The ``model_config`` of a GET model answer (what a register body set)."""
    return answer.get("model_config") if isinstance(answer, dict) else answer


PREDICTS: list[tuple[str, JSONObject, str]] = [
    ("query side", {"text_docs": TEXTS, "parameters": {"content_type": "query"}}, ""),
    ("passage side", {"text_docs": TEXTS, "parameters": {"content_type": "passage"}}, ""),
    ("QUERY in capitals", {"text_docs": TEXTS[:1], "parameters": {"content_type": "QUERY"}}, ""),
    ("no side", {"text_docs": TEXTS[:1]}, KNOWN["asymmetric-500"]),
    ("unknown side", {"text_docs": TEXTS[:1], "parameters": {"content_type": "document"}}, ""),
]
SYMMETRIC = ("symmetric model with a side",
             {"text_docs": TEXTS[:1], "parameters": {"content_type": "query"}},
             KNOWN["asymmetric-500"])  # fmt: skip

NEURAL = {"neural": {"text_embedding": {"query_text": "lift on a wing", "model_id": ASYMMETRIC,
                                        "k": 8}}}  # fmt: skip


def asymmetric_cases(sides: Sides) -> list[Case]:
    """Every asymmetric-model case (the corpus of :mod:`.search_cases` must be indexed)."""
    from processors.models.binding import model_store
    from processors.models.mlcommons.predict import predict_response

    with asymmetric_settings(sides.settings) as settings:
        ref_id = _register_on_reference(settings)
        ref_sides = copy.copy(sides)
        ref_sides.ref_ids = {**sides.ref_ids, ASYMMETRIC: ref_id}
        store = model_store(settings)
        registration = store.registration(ASYMMETRIC)
        config = registration.model_config_.model_dump(exclude_none=True)  # type: ignore[union-attr]
        cases = []

        case = Case("asymmetric", "register: model_config with query_prefix / passage_prefix")
        ref = ref_sides.ref("GET", f"/_plugins/_ml/models/{ref_id}")
        mine = {k: v for k, v in config.items() if k in _config_of(ref[1])}
        case.differences = compare_json(
            {k: _config_of(ref[1]).get(k) for k in ("query_prefix", "passage_prefix")},
            {k: mine.get(k) for k in ("query_prefix", "passage_prefix")},
        )
        cases.append(case)

        for label, body, known in PREDICTS:
            case = Case("asymmetric", f"_predict {label}", known=known)
            ref = ref_sides.ref("POST", f"/_plugins/_ml/models/{ref_id}/_predict", body)
            ours = sides.ours(
                lambda b=body: predict_response(  # type: ignore[misc]
                    "TEXT_EMBEDDING", store.get(ASYMMETRIC), copy.deepcopy(b), config
                )
            )
            judge(case, ref_sides, ref, ours)
            cases.append(case)
        label, body, known = SYMMETRIC
        case = Case("asymmetric", f"_predict {label}", known=known)
        ref = sides.ref("POST", f"/_plugins/_ml/models/{sides.ref_ids[ONNX]}/_predict", body)
        ours = sides.ours(lambda: sides.predict(ONNX, copy.deepcopy(body)))
        judge(case, sides, ref, ours)
        cases.append(case)

        pipeline = {"processors": [{"text_embedding": {"model_id": ASYMMETRIC,
                                                       "field_map": {"text": "emb"}}}]}  # fmt: skip
        docs = [{"_source": {"text": t}} for t in TEXTS]
        case = Case("asymmetric", "text_embedding ingest (passage side)")
        ref = ref_sides.ref("POST", "/_ingest/pipeline/_simulate",
                            {"pipeline": ref_sides.to_ref(pipeline), "docs": docs})  # fmt: skip
        ours = sides.ours(lambda: _simulate(pipeline, docs, store, sides))
        judge(case, ref_sides, ref, ours)
        cases.append(case)

        hybrid = {"queries": [{"match": {"text": "lift wing"}}, NEURAL]}
        fusion: JSONObject = {"phase_results_processors": [{"normalization-processor": {}}]}
        searches: list[tuple[str, JSONObject, JSONObject | None]] = [
            ("neural k=8 (query side)", {"size": 8, "query": NEURAL}, None),
            ("hybrid match + neural (query side)",
             {"size": 8, "query": {"hybrid": hybrid}}, fusion),
        ]  # fmt: skip
        for label, body, pipeline_body in searches:
            case = Case("asymmetric", label)
            ref = ref_sides.ref_search(pipeline_body, body, "diff-asym")
            ours = sides.ours(lambda b=body, p=pipeline_body: _search(p, b, store, sides))  # type: ignore[misc]
            if ref[0] == 200 and ours[0] == 200:
                case.differences = compare_hits(ref[1], ours[1])
            else:
                judge(case, ref_sides, ref, ours)
            cases.append(case)
        ref_sides.ref("DELETE", "/_search/pipeline/diff-asym")
        return cases


def _simulate(pipeline: JSONObject, docs: list[JSONObject], store: Any, sides: Sides) -> Any:
    from processors.config.ingest_body import parse_ingest_pipeline
    from processors.pipeline.simulate import simulate

    spec = parse_ingest_pipeline("diff-asym", copy.deepcopy(pipeline))
    return simulate(spec, copy.deepcopy(docs), encoders=store.get, client=sides.client)


def _search(pipeline: JSONObject | None, body: JSONObject, store: Any, sides: Sides) -> Any:
    from processors.config.search_body import parse_search_pipeline
    from processors.pipeline.search import SearchPipeline

    spec = parse_search_pipeline("diff-asym", copy.deepcopy(pipeline)) if pipeline else None
    runner = SearchPipeline(spec, models=store.get, client=sides.client)
    return runner.search(sides.index, copy.deepcopy(body))
