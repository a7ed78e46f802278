"""`neuralpipe model fetch` against a real HTTP server on 127.0.0.1 (a stand-in for
artifacts.opensearch.org): right hash, wrong hash, 404, a truncated body. Each failure is a
clear error of our tree and leaves nothing in the cache or the yaml folder."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from processors.cli.main import cli
from processors.errors import ArtifactDownloadError, ArtifactError
from processors.models.build.fetch import fetch_model
from processors.models.bundled import tokenizer_zip
from processors.models.mlcommons import catalog
from processors.models.registration import ModelFormat
from processors.models.sparse_tokenize import SparseTokenizer
from processors.models.store import ModelStore, yaml_resolver

NAME = "amazon/neural-sparse/opensearch-neural-sparse-tokenizer-v1"
ENTRY = catalog.get_model(NAME)
FMT = ModelFormat.TORCH_SCRIPT
ZIP = tokenizer_zip("bert-uncased").read_bytes()  # a real SPARSE_TOKENIZE zip
SHA = hashlib.sha256(ZIP).hexdigest()
PREFIX = f"/models/ml-models/{NAME}/{ENTRY.version}/torch_script"
ZIP_PATH = f"{PREFIX}/{ENTRY.artifact_file_name(FMT)}"


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    truncate_to: int | None = None  # send this many bytes of body, announce all of them


@dataclass
class Artifacts:
    """What the fake artifact server serves, and what it was asked for."""

    base_url: str
    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def publish(self, config: dict[str, object], zip_route: Route) -> None:
        self.routes[f"{PREFIX}/config.json"] = Route(body=json.dumps(config).encode())
        self.routes[ZIP_PATH] = zip_route


def _config(sha: str = SHA) -> dict[str, object]:
    return {
        "name": NAME,
        "version": ENTRY.version,
        "description": "tokenizer with IDF weights",
        "model_format": "TORCH_SCRIPT",
        "function_name": "SPARSE_TOKENIZE",
        "model_content_size_in_bytes": len(ZIP),
        "model_content_hash_value": sha,
        "created_time": 1696913667239,
    }


@pytest.fixture
def artifacts() -> Iterator[Artifacts]:
    state = Artifacts(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            route = state.routes.get(self.path, Route(status=404, body=b"Not Found"))
            self.send_response(route.status)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            sent = route.body if route.truncate_to is None else route.body[: route.truncate_to]
            self.wfile.write(sent)
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/models/ml-models"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _fetch(artifacts: Artifacts, tmp_path: Path) -> object:
    return fetch_model(
        NAME,
        model_format=FMT,
        models_dir=tmp_path / "models",
        yaml_dir=tmp_path / "yaml",
        base_url=artifacts.base_url,
        timeout_s=10,
    )


def _left_behind(tmp_path: Path) -> list[str]:
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())


def test_right_hash_caches_the_zip_and_writes_a_body_the_store_loads(
    artifacts: Artifacts, tmp_path: Path
) -> None:
    artifacts.publish(_config(), Route(body=ZIP))
    result = fetch_model(
        NAME,
        model_format=FMT,
        models_dir=tmp_path / "models",
        yaml_dir=tmp_path / "yaml",
        base_url=artifacts.base_url,
    )
    assert result.zip_path.read_bytes() == ZIP and not result.cached
    assert result.model_id == "opensearch-neural-sparse-tokenizer-v1-torchscript"
    body = result.registration.to_body()
    assert body["model_content_hash_value"] == SHA
    assert body["model_content_size_in_bytes"] == len(ZIP)
    assert body["url"] == f"file:pretrained/{ENTRY.artifact_file_name(FMT)}"
    assert (body["name"], body["function_name"]) == (NAME, "SPARSE_TOKENIZE")
    assert _left_behind(tmp_path) == [
        f"models/pretrained/{ENTRY.artifact_file_name(FMT)}",
        f"yaml/{result.model_id}.yaml",
    ]
    store = ModelStore(yaml_resolver(tmp_path / "yaml", tmp_path / "models"))
    model = store.sparse_encoder(result.model_id)
    assert isinstance(model, SparseTokenizer)
    assert "good" in model.encode(["a good day"])[0]

    again = fetch_model(
        NAME, models_dir=tmp_path / "models", yaml_dir=None, base_url=artifacts.base_url
    )
    assert again.cached and artifacts.hits.count(ZIP_PATH) == 1


def test_wrong_hash_is_refused_and_nothing_is_kept(artifacts: Artifacts, tmp_path: Path) -> None:
    artifacts.publish(_config(sha="0" * 64), Route(body=ZIP))
    with pytest.raises(ArtifactError, match=f"SHA-256 {SHA} does not match .* {'0' * 64}"):
        _fetch(artifacts, tmp_path)
    assert _left_behind(tmp_path) == []


def test_a_corrupt_cached_zip_is_replaced_only_by_a_verified_one(
    artifacts: Artifacts, tmp_path: Path
) -> None:
    target = tmp_path / "models" / "pretrained" / ENTRY.artifact_file_name(FMT)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"corrupt")
    artifacts.publish(_config(), Route(body=ZIP[:-1] + b"X"))
    with pytest.raises(ArtifactError, match="does not match"):
        _fetch(artifacts, tmp_path)
    assert target.read_bytes() == b"corrupt"
    artifacts.publish(_config(), Route(body=ZIP))
    assert _fetch(artifacts, tmp_path).zip_path.read_bytes() == ZIP  # type: ignore[attr-defined]


def test_missing_zip_is_a_download_error_naming_the_url(
    artifacts: Artifacts, tmp_path: Path
) -> None:
    artifacts.publish(_config(), Route(status=404, body=b"Not Found"))
    with pytest.raises(ArtifactDownloadError, match=rf"cannot download .*{ZIP_PATH}: HTTP 404"):
        _fetch(artifacts, tmp_path)
    assert _left_behind(tmp_path) == []


def test_missing_config_is_a_download_error(artifacts: Artifacts, tmp_path: Path) -> None:
    with pytest.raises(ArtifactDownloadError, match=r"config\.json: HTTP 404"):
        _fetch(artifacts, tmp_path)
    assert _left_behind(tmp_path) == [] and artifacts.hits == [f"{PREFIX}/config.json"]


def test_truncated_download_is_refused_and_nothing_is_kept(
    artifacts: Artifacts, tmp_path: Path
) -> None:
    artifacts.publish(_config(), Route(body=ZIP, truncate_to=len(ZIP) // 2))
    with pytest.raises(ArtifactDownloadError, match=r"truncated|broke off"):
        _fetch(artifacts, tmp_path)
    assert _left_behind(tmp_path) == []


@pytest.mark.parametrize("value", [None, "abc", 42])
def test_config_without_a_usable_hash_is_refused(
    artifacts: Artifacts, tmp_path: Path, value: object
) -> None:
    config = _config()
    config["model_content_hash_value"] = value
    artifacts.publish(config, Route(body=ZIP))
    with pytest.raises(ArtifactError, match="model_content_hash_value must be a 64-digit SHA-256"):
        _fetch(artifacts, tmp_path)
    assert _left_behind(tmp_path) == [] and ZIP_PATH not in artifacts.hits


def test_unreachable_server_says_what_to_do_offline(tmp_path: Path) -> None:
    with pytest.raises(ArtifactDownloadError, match="Without a network"):
        fetch_model(
            NAME,
            models_dir=tmp_path / "models",
            yaml_dir=tmp_path / "yaml",
            base_url="http://127.0.0.1:9/none",
            timeout_s=5,
        )
    assert _left_behind(tmp_path) == []


def test_cli_fetch_takes_the_base_url_from_the_environment(
    artifacts: Artifacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    artifacts.publish(_config(), Route(body=ZIP))
    monkeypatch.setenv("NEURALPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NEURALPIPE_MODEL_ARTIFACTS_URL", artifacts.base_url)
    args = ["model", "fetch", NAME, "--format", "torch_script", "--out", str(tmp_path / "yaml")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["model_content_hash_value"] == SHA and out["cached"] is False
    assert Path(out["zip"]).parent == tmp_path / "home" / "models" / "pretrained"
    assert Path(out["yaml"]).is_file()


def test_cli_fetch_errors_are_one_line_not_a_traceback(
    artifacts: Artifacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEURALPIPE_HOME", str(tmp_path / "home"))
    artifacts.publish(_config(sha="f" * 64), Route(body=ZIP))
    base = ["model", "fetch", "--base-url", artifacts.base_url, "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, [*base, NAME])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "does not match the published model_content_hash_value" in result.output
    unknown = CliRunner().invoke(cli, [*base, "amazon/neural-sparse/nope"])
    assert unknown.exit_code == 2 and "not in the pre-trained model list" in unknown.output
