"""The public API of ``import processors``: pinned, resolvable, and light to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import processors

PUBLIC = {
    # pipelines and their loaders
    "IngestPipeline", "SearchPipeline", "simulate",
    "load_ingest_pipeline", "parse_ingest_pipeline", "load_search_pipeline",
    "parse_search_pipeline",
    # models
    "ModelStore", "model_store", "load_model",
    # bulk indexing
    "BulkIndexer", "RunControl", "pipeline_fingerprint",
    # the node
    "make_client", "load_mapping", "create_index", "delete_index",
    # the proxy
    "create_app", "ProxySettings",
    # settings and errors
    "Settings", "__version__",
    "NeuralpipeError", "ConfigError", "UnknownProcessorError", "InvalidProcessorConfigError",
    "UnsupportedFeatureError", "InvalidQueryError", "CrossReferenceError",
    "FingerprintMismatchError", "NodeError", "ModelError", "ModelNotRegisteredError",
    "ArtifactError", "IndexingError", "ProcessorRuntimeError",
}  # fmt: skip


def test_all_is_the_pinned_api() -> None:
    assert set(processors.__all__) == PUBLIC
    assert len(processors.__all__) == len(PUBLIC)


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(processors, name)
    assert value is not None
    if name != "__version__":
        assert value.__name__ == name  # the object itself, not a module of that name


def test_public_names_are_the_defining_objects() -> None:
    from processors.indexing.bulk import BulkIndexer
    from processors.pipeline.search import SearchPipeline

    assert processors.BulkIndexer is BulkIndexer
    assert processors.SearchPipeline is SearchPipeline
    assert set(dir(processors)) >= PUBLIC


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'BulkIndexr'"):
        _ = processors.BulkIndexr  # type: ignore[attr-defined]


def test_import_is_light() -> None:
    """``import processors`` (and so ``neuralpipe --help``) loads no model runtime."""
    code = (
        "import sys, processors; "
        "heavy = sorted(m for m in ('torch', 'onnxruntime', 'tokenizers', 'numpy', 'starlette') "
        "if m in sys.modules); print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
