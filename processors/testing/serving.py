"""An ASGI app under uvicorn in a daemon thread, for tests and benchmarks: :func:`serve`.

Example:
    >>> with serve(create_app(settings)) as url:  # doctest: +SKIP
    ...     httpx.get(f"{url}/")
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from processors.opensearch.node import free_port


@contextlib.contextmanager
def serve(app: Any, *, start_timeout: float = 60) -> Iterator[str]:
    """``app`` under uvicorn with ``neuralpipe serve``'s server options, on a free port of
    127.0.0.1, in a daemon thread of this process; yields its URL and stops it on exit."""
    import uvicorn

    from processors.proxy.app import server_options

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            **server_options())  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="neuralpipe-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the server on port {port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
