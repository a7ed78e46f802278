"""Helpers for the proxy's integration tests: the app under uvicorn in a thread, fake models."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette

from processors.errors import ModelNotRegisteredError
from processors.testing.fakes import CountSparseEncoder, HashEmbedder, OverlapCrossEncoder


def fake_models(model_id: str) -> Any:
    if model_id == "dense":
        return HashEmbedder(384)
    if model_id == "sparse":
        return CountSparseEncoder()
    if model_id == "cross":
        return OverlapCrossEncoder()
    raise ModelNotRegisteredError(f"model id [{model_id}] not found")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; its URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the proxy did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
