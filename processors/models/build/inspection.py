"""Describe a model zip for ``neuralpipe model inspect`` (files, hash, tokenizer, graph I/O).

Example:
    >>> inspect_zip(Path("minilm.zip"), Path("/tmp/x"))["format"]  # doctest: +SKIP
    'ONNX'
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from processors.models.artifact import open_artifact
from processors.models.registration import FunctionName


def _graph_io(model_file: Path) -> dict[str, Any]:
    if model_file.suffix == ".onnx":
        from processors.models.onnx import OnnxRunner

        runner = OnnxRunner(model_file, threads=1)
        session = runner._session
        return {
            "inputs": [
                {"name": i.name, "type": i.type, "shape": i.shape} for i in session.get_inputs()
            ],
            "outputs": [
                {"name": o.name, "type": o.type, "shape": o.shape} for o in session.get_outputs()
            ],
        }
    from processors.models.torchscript import TorchScriptRunner

    runner_ts = TorchScriptRunner(model_file, dict_input=False)
    schema = str(runner_ts._module.forward.schema)
    dict_input = "Dict(str, Tensor)" in schema.split("->")[0]
    inputs = ["{input_ids, attention_mask}"] if dict_input else list(runner_ts.input_names)
    return {"inputs": inputs, "dict_input": dict_input, "forward_schema": schema}


def inspect_zip(zip_path: Path, extract_dir: Path) -> dict[str, Any]:
    """Verify and describe a zip; SPARSE_TOKENIZE is assumed when it has no model file."""
    with zipfile.ZipFile(zip_path) as zf:
        files = [{"name": i.filename, "size": i.file_size} for i in zf.infolist()]
        has_model = any(i.filename.endswith((".pt", ".onnx")) for i in zf.infolist())
    function = FunctionName.TEXT_EMBEDDING if has_model else FunctionName.SPARSE_TOKENIZE
    art = open_artifact(zip_path, function_name=function, cache_dir=extract_dir)
    spec = json.loads(art.tokenizer_file.read_text(encoding="utf-8"))
    vocab = (spec.get("model") or {}).get("vocab")
    info: dict[str, Any] = {
        "zip": str(zip_path),
        "model_content_hash_value": art.sha256,
        "model_content_size_in_bytes": zip_path.stat().st_size,
        "files": files,
        "format": art.model_format.value if art.model_format else None,
        "tokenizer": {
            "model": (spec.get("model") or {}).get("type"),
            "vocab_size": len(vocab) if isinstance(vocab, dict | list) else None,
            "truncation": spec.get("truncation"),
            "special_tokens": [
                t["content"] for t in spec.get("added_tokens", []) if t.get("special")
            ],
        },
        "idf": art.idf_file is not None,
    }
    if art.model_file is not None:
        info["graph"] = _graph_io(art.model_file)
    return info
