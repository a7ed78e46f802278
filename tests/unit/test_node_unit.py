"""Node pieces that need no running node: ports, version pinning, settings."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from processors.errors import NodeError, NodeStartError
from processors.opensearch.distribution import Distribution, _file_name, _pom
from processors.opensearch.node import _choose_port, port_free
from processors.settings import Settings


def test_explicit_port_in_use_says_what_to_do() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(NodeStartError, match=f"port {port} on 127.0.0.1 is in use.*--port"):
            _choose_port(port)


def test_a_port_left_in_time_wait_by_a_stopped_server_is_free() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM listens
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    assert not port_free(port)  # a listener is in use
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end waits in TIME_WAIT
    client.recv(1)
    client.close()
    server.close()
    assert port_free(port)


def test_unpinned_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match=r"2\.19\.6"):
        Distribution(tmp_path, "1.3.0")


def test_coordinates_and_pom() -> None:
    dist = Distribution(Path("/nowhere"), "2.19.6")
    assert (
        dist.dist_coordinate == "org.opensearch.distribution.integ-test-zip:opensearch:2.19.6:zip"
    )
    assert dist.knn_coordinate == "org.opensearch.plugin:opensearch-knn:2.19.6.0:zip"
    assert _file_name(dist.knn_coordinate) == "opensearch-knn-2.19.6.0.zip"
    assert _file_name("org.antlr:antlr4-runtime:4.13.1") == "antlr4-runtime-4.13.1.jar"
    pom = _pom([dist.knn_coordinate])
    assert (
        "<artifactId>opensearch-knn</artifactId><version>2.19.6.0</version><type>zip</type>" in pom
    )


def test_settings_read_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEURALPIPE_OPENSEARCH_URL", "https://search.example:9200")
    monkeypatch.setenv("NEURALPIPE_OPENSEARCH_VERIFY_CERTS", "false")
    settings = Settings()
    assert settings.opensearch_url == "https://search.example:9200"
    assert settings.opensearch_verify_certs is False
    assert not settings.uses_embedded_node


def test_nothing_beside_the_clone_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The old shared-folder variable is ignored: the data it pointed at is in the repository."""
    monkeypatch.setenv("NEURALPIPE_SHARED_DIR", "/nonexistent")
    assert not hasattr(Settings(), "shared_dir")


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b'{"cluster_name": "neuralpipe-default"}', True),
        (200, b'{"cluster_name": "prod"}', False),
        (401, b'{"error": "security"}', False),  # answers, but not as neuralpipe's nodes do
        (200, b"not json", None),
    ],
)
def test_is_neuralpipe_node_asks_the_cluster_its_name(
    status: int, body: bytes, expected: bool | None
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from processors.opensearch.node import is_neuralpipe_node

    class Root(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert is_neuralpipe_node(f"http://127.0.0.1:{server.server_port}") is expected
    finally:
        server.shutdown()
        server.server_close()
