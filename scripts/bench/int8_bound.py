"""Upper bound on int8 MiniLM-L6 speed vs sentence-transformers, single thread, CPU time.

Any int8 build must run the encoder's int8 GEMMs (fused Q/K/V, attention output, FFN up, FFN
down; 6 layers). This script times those GEMMs alone (onnxruntime ``MatMulInteger``, uint8 x
int8, MLAS: the QGEMM that the per-row build's ``MatMulIntegerToFloat`` runs too, there with
the scales applied in its output stage) at their best shape (every real token of the
passages in one M: no padding, one call per GEMM), and sentence-transformers' ``encode`` on
the same passages, both on one thread and in process CPU time (less sensitive to a loaded
machine than wall time). ``ST time / GEMM time`` bounds what any int8 build using these
kernels can reach: the rest of the model (attention, layer norms, GELU, quantizing
activations) only adds to it. With AVX-512 VNNI the bound is far above the builds' ratios
(6.6x on an AMD EPYC, README): the fp32 rest dominates there.

Usage: python scripts/bench/int8_bound.py [--passages 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np
from embed import CRAN, MINILM, fields  # the sibling script (scripts/bench/ is sys.path[0])

HIDDEN, FFN, LAYERS = 384, 1536, 6
SHAPES = [(HIDDEN, 3 * HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, FFN), (FFN, HIDDEN)]


def gemm_session(k: int, n: int) -> Any:
    """A one-node ``MatMulInteger`` graph (A uint8 [M, k], zero point 128; B int8 [k, n])."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    zero = np.array(128, np.uint8)
    weights = np.random.default_rng(0).integers(-127, 128, (k, n)).astype(np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B", "zero"], ["Y"])],
        "gemm",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, ["M", k])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, ["M", n])],
        [numpy_helper.from_array(weights, "B"), numpy_helper.from_array(zero, "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def gemm_seconds(tokens: int, repeats: int = 5) -> float:
    """CPU seconds of the encoder's int8 GEMMs over ``tokens`` rows (best of ``repeats``)."""
    total = 0.0
    for k, n in SHAPES:
        session = gemm_session(k, n)
        rows = np.random.default_rng(1).integers(0, 256, (tokens, k)).astype(np.uint8)
        session.run(None, {"A": rows})
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            session.run(None, {"A": rows})
            best = min(best, time.process_time() - start)
        total += best * LAYERS
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passages", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    docs = (fields(CRAN / "cran.all.1400", "W") + fields(CRAN / "cran.all.1400", "T"))[
        : args.passages
    ]
    tokenizer = Tokenizer.from_file(str(MINILM / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    tokens = sum(len(e.ids) for e in tokenizer.encode_batch(docs))
    torch.set_num_threads(1)
    st = SentenceTransformer(str(MINILM), device="cpu")
    st.encode(docs[:8], batch_size=32, show_progress_bar=False)
    st_times, gemm_times = [], []
    for _ in range(args.rounds):
        start = time.process_time()
        st.encode(docs, batch_size=32, show_progress_bar=False)
        st_times.append(time.process_time() - start)
        gemm_times.append(gemm_seconds(tokens))
    st_s, gemm_s = statistics.median(st_times), statistics.median(gemm_times)
    print(f"{len(docs)} passages, {tokens} tokens, 1 thread, CPU time, load {os.getloadavg()}")
    print(f"sentence-transformers: {st_s:.2f} s ({len(docs) / st_s:.1f} passages/s)")
    print(f"int8 GEMMs alone:      {gemm_s:.2f} s ({len(docs) / gemm_s:.1f} passages/s)")
    print(f"bound on any int8 build with these kernels: {st_s / gemm_s:.2f}x sentence-transformers")


if __name__ == "__main__":
    main()
