"""Encoder contract, run against both backends of the tiny random models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from processors.errors import ModelError
from processors.models.build.builder import BuildResult
from processors.models.encoders import CrossEncoder, SparseEncoder, TextEmbedder
from processors.models.loader import LoadedModel, load_model
from processors.models.mlcommons.predict import predict_response
from processors.models.runtimes import CrossRuntime, DenseRuntime, SparseRuntime
from processors.testing.tiny_models import HIDDEN, MAX_LENGTH, SPECIALS

BACKENDS = ["onnx", "torchscript"]
TEXTS = [
    "hello world",
    "the quick brown fox jumps over the lazy dog",
    "paris",
    "what is the capital of france",
    "heat flow over a small plate",
]


def _dense(models: dict[str, LoadedModel], backend: str) -> DenseRuntime:
    model = models[f"embed-{backend}"]
    assert isinstance(model, DenseRuntime)
    return model


def _sparse(models: dict[str, LoadedModel], backend: str) -> SparseRuntime:
    model = models[f"sparse-{backend}"]
    assert isinstance(model, SparseRuntime)
    return model


def _cross(models: dict[str, LoadedModel], backend: str) -> CrossRuntime:
    model = models[f"cross-{backend}"]
    assert isinstance(model, CrossRuntime)
    return model


@pytest.mark.parametrize("backend", BACKENDS)
class TestEncoderContract:
    def test_protocols(self, tiny_models: dict[str, LoadedModel], backend: str) -> None:
        assert isinstance(_dense(tiny_models, backend), TextEmbedder)
        assert isinstance(_sparse(tiny_models, backend), SparseEncoder)
        assert isinstance(_cross(tiny_models, backend), CrossEncoder)

    def test_dense_shape_dtype_norm(
        self, tiny_models: dict[str, LoadedModel], backend: str
    ) -> None:
        vectors = _dense(tiny_models, backend).embed(TEXTS)
        assert vectors.shape == (len(TEXTS), HIDDEN) and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
        assert _dense(tiny_models, backend).embed([]).shape == (0, HIDDEN)

    def test_dense_batch_invariance(
        self, tiny_models: dict[str, LoadedModel], backend: str
    ) -> None:
        model = _dense(tiny_models, backend)
        batch = model.embed(TEXTS)
        single = np.stack([model.embed([t])[0] for t in TEXTS])
        np.testing.assert_allclose(batch, single, atol=1e-5)
        np.testing.assert_allclose(model.embed(TEXTS[::-1])[::-1], batch, atol=1e-5)

    def test_truncation(self, tiny_models: dict[str, LoadedModel], backend: str) -> None:
        model = _dense(tiny_models, backend)
        words = ("dog cat " * 40).split()
        kept = " ".join(words[: MAX_LENGTH - 2])
        np.testing.assert_allclose(model.embed([" ".join(words)]), model.embed([kept]), atol=1e-5)

    def test_bad_input(self, tiny_models: dict[str, LoadedModel], backend: str) -> None:
        model = _dense(tiny_models, backend)
        empty = model.embed(["ok", ""])  # ml-commons embeds "" as [CLS] [SEP]
        assert empty.shape == (2, HIDDEN) and np.isfinite(empty).all()
        with pytest.raises(ModelError, match="not a string"):
            model.embed([42])  # type: ignore[list-item]

    def test_sparse_maps(self, tiny_models: dict[str, LoadedModel], backend: str) -> None:
        model = _sparse(tiny_models, backend)
        maps = model.encode(TEXTS)
        assert len(maps) == len(TEXTS)
        for m in maps:
            assert m and not set(m) & {*SPECIALS, ""}
            assert all(isinstance(w, float) and w > 0 for w in m.values())
        single = [model.encode([t])[0] for t in TEXTS]
        for a, b in zip(maps, single, strict=True):
            assert set(a) == set(b)
            np.testing.assert_allclose([a[k] for k in a], [b[k] for k in a], atol=1e-5)

    def test_cross_scores(self, tiny_models: dict[str, LoadedModel], backend: str) -> None:
        model = _cross(tiny_models, backend)
        scores = model.score("hello", TEXTS)
        assert scores.shape == (len(TEXTS),) and scores.dtype == np.float32
        single = np.array([model.score("hello", [t])[0] for t in TEXTS])
        np.testing.assert_allclose(scores, single, atol=1e-5)


def test_torchscript_onnx_parity(tiny_models: dict[str, LoadedModel]) -> None:
    tol = {"rtol": 1e-3, "atol": 1e-5}
    np.testing.assert_allclose(
        _dense(tiny_models, "onnx").embed(TEXTS),
        _dense(tiny_models, "torchscript").embed(TEXTS),
        **tol,
    )
    np.testing.assert_allclose(
        _cross(tiny_models, "onnx").score("paris", TEXTS),
        _cross(tiny_models, "torchscript").score("paris", TEXTS),
        **tol,
    )
    for a, b in zip(
        _sparse(tiny_models, "onnx").encode(TEXTS),
        _sparse(tiny_models, "torchscript").encode(TEXTS),
        strict=True,
    ):
        keys = sorted(set(a) | set(b))
        np.testing.assert_allclose(
            [a.get(k, 0.0) for k in keys], [b.get(k, 0.0) for k in keys], **tol
        )


def test_dense_matches_sentence_transformers(
    tiny_models: dict[str, LoadedModel], tiny_sources: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(tiny_sources / "embed"), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(_dense(tiny_models, "onnx").embed(TEXTS), reference, atol=1e-5)


def test_cross_encoder_matches_transformers(
    tiny_models: dict[str, LoadedModel], tiny_sources: Path
) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    hf = AutoModelForSequenceClassification.from_pretrained(str(tiny_sources / "cross")).eval()
    tok = _cross(tiny_models, "onnx").tokenizer
    expected = []
    for text in TEXTS:
        batch = tok.encode_pairs("what is paris", [text])
        with torch.no_grad():
            logits = hf(
                **{
                    k: torch.from_numpy(v)
                    for k, v in batch.feed(
                        ["input_ids", "attention_mask", "token_type_ids"]
                    ).items()
                }
            ).logits
        expected.append(float(logits[0, 0]))
    for backend in BACKENDS:
        got = _cross(tiny_models, backend).score("what is paris", TEXTS)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_int8_build_reports_quality(tiny_zips: dict[str, BuildResult]) -> None:
    quality = tiny_zips["embed-onnx-int8"].quality
    assert quality is not None and 0.9 < quality["min_cosine"] <= quality["mean_cosine"] <= 1.0


def test_registration_bodies(tiny_zips: dict[str, BuildResult]) -> None:
    body = tiny_zips["embed-onnx"].registration.to_body()
    assert body["model_format"] == "ONNX" and body["function_name"] == "TEXT_EMBEDDING"
    assert body["url"] == f"file:{tiny_zips['embed-onnx'].zip_path.name}"
    cfg = body["model_config"]
    assert cfg["embedding_dimension"] == HIDDEN and cfg["pooling_mode"] == "mean"
    assert cfg["normalize_result"] is True and cfg["framework_type"] == "SENTENCE_TRANSFORMERS"
    assert tiny_zips["cross-torchscript"].registration.model_config_ is not None
    assert (
        tiny_zips["embed-onnx"].yaml_path is not None
        and tiny_zips["embed-onnx"].yaml_path.is_file()
    )


def test_rebuild_is_cached(tiny_zips: dict[str, BuildResult], tiny_root: Path) -> None:
    from processors.testing.tiny_models import build_tiny_zips

    again = build_tiny_zips(tiny_root, quantize=True)
    assert all(r.cached for r in again.values())
    assert {k: r.zip_path for k, r in again.items()} == {
        k: r.zip_path for k, r in tiny_zips.items()
    }


def test_predict_response_shapes(tiny_models: dict[str, LoadedModel]) -> None:
    hello = {"text_docs": ["hello"]}
    dense = predict_response("TEXT_EMBEDDING", tiny_models["embed-onnx"], hello)
    (tensor,) = dense["inference_results"][0]["output"]
    assert tensor["name"] == "sentence_embedding" and tensor["shape"] == [HIDDEN]
    assert tensor["data_type"] == "FLOAT32" and len(tensor["data"]) == HIDDEN
    sparse = predict_response("SPARSE_ENCODING", tiny_models["sparse-onnx"], hello)
    assert "name" not in sparse["inference_results"][0]["output"][0]  # as ml-commons: unnamed
    sparse = predict_response("SPARSE_ENCODING", tiny_models["sparse-torchscript"], hello)
    assert sparse["inference_results"][0]["output"][0]["name"] == "output"
    cross = predict_response(
        "TEXT_SIMILARITY", tiny_models["cross-onnx"], {"text_docs": ["a", "b"], "query_text": "q"}
    )
    assert len(cross["inference_results"]) == 2
    assert cross["inference_results"][0]["output"][0]["byte_buffer"]["order"] == "LITTLE_ENDIAN"
    with pytest.raises(ModelError, match="No query text was provided"):
        predict_response("TEXT_SIMILARITY", tiny_models["cross-onnx"],
                         {"text_docs": ["a"], "query_text": ""})  # fmt: skip


def test_sparse_token_id_format_keys_the_same_weights_by_token_id(
    tiny_models: dict[str, LoadedModel],
) -> None:
    model = tiny_models["sparse-onnx"]
    texts = ["hello world", "paris"]

    def maps(key_format: str) -> list[dict[str, float]]:
        body = {"text_docs": texts, "parameters": {"sparse_embedding_format": key_format}}
        response = predict_response("SPARSE_ENCODING", model, body)
        return [r["output"][0]["dataAsMap"]["response"][0] for r in response["inference_results"]]

    assert isinstance(model, SparseRuntime)
    for words, ids in zip(maps("WORD"), maps("token_id"), strict=True):
        assert ids and all(key.isdigit() for key in ids)
        assert {model.tokenizer.decode_id(int(key)): w for key, w in ids.items()} == words
    with pytest.raises(ModelError, match=r"sparse_embedding_format \[LEXICAL\] is not supported"):
        maps("lexical")


def test_asymmetric_prefixes(tiny_zips: dict[str, BuildResult], tiny_root: Path) -> None:
    result = tiny_zips["embed-onnx"]
    cfg = result.registration.model_config_
    assert cfg is not None
    reg = result.registration.model_copy(
        update={
            "model_config_": cfg.model_copy(
                update={"query_prefix": "query: ", "passage_prefix": "passage: "}
            )
        }
    )
    model = load_model(result.zip_path, reg, cache_dir=tiny_root / "extracted")
    assert isinstance(model, DenseRuntime)
    plain = _dense({"embed-onnx": load_model(result.zip_path, result.registration)}, "onnx")
    np.testing.assert_allclose(
        model.embed(["paris"], "query"), plain.embed(["query: paris"]), atol=1e-6
    )
    with pytest.raises(ModelError, match="asymmetric"):
        config = reg.model_config_.model_dump() if reg.model_config_ else None
        predict_response("TEXT_EMBEDDING", model, {"text_docs": ["paris"]}, config)
