"""``neuralpipe model fetch``: a pretrained catalog model from OpenSearch's artifact server.

For ``NAME`` (and optionally a version and format the catalog lists), fetching

1. reads ``<base>/<name>/<version>/<fmt>/config.json``, the model's published ``_register``
   fields, whose ``model_content_hash_value`` is the SHA-256 of the zip;
2. downloads ``<base>/<name>/<version>/<fmt>/<file>.zip`` into a temporary file beside the
   cache entry, hashing it on the way and checking the byte count against ``Content-Length``;
3. moves it into place (``<models dir>/pretrained/<file>.zip``) only when the hash matches,
   with an atomic rename: the cache never holds a partial or unverified zip;
4. writes the ``_register`` body as ``<yaml dir>/<model id>.yaml`` (``url: file:pretrained/...``),
   which ``neuralpipe model register``, pipelines and the proxy read like the built models'.

``<base>`` is OpenSearch's ``https://artifacts.opensearch.org/models/ml-models`` unless
``Settings.model_artifacts_url`` (``NEURALPIPE_MODEL_ARTIFACTS_URL``) names a mirror.

Example:
    >>> default_model_id("huggingface/sentence-transformers/all-MiniLM-L6-v2", ModelFormat.ONNX)
    'all-minilm-l6-v2-onnx'
    >>> expected_sha256({"model_content_hash_value": "AB" * 32}, "config.json") == "ab" * 32
    True
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from processors.errors import ArtifactDownloadError, ArtifactError
from processors.models.artifact import sha256_file
from processors.models.mlcommons import catalog
from processors.models.registration import ModelConfig, ModelFormat, ModelRegistration

log = logging.getLogger(__name__)

PRETRAINED_SUBDIR = catalog.PRETRAINED_SUBDIR
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BLOCK = 1 << 20


@dataclass(frozen=True)
class FetchResult:
    """One fetched catalog model.

    Example:
        >>> result.registration.to_body()["url"]  # doctest: +SKIP
        'file:pretrained/sentence-transformers_all-MiniLM-L6-v2-1.0.1-onnx.zip'
    """

    model_id: str
    zip_path: Path
    registration: ModelRegistration
    yaml_path: Path | None
    cached: bool


def default_model_id(name: str, model_format: ModelFormat) -> str:
    """``<last name segment, lower case>-<onnx|torchscript>``, like the built models' ids."""
    suffix = "onnx" if model_format is ModelFormat.ONNX else "torchscript"
    return f"{name.rsplit('/', 1)[-1].lower()}-{suffix}"


def expected_sha256(config: Mapping[str, Any], where: str) -> str:
    """The zip's SHA-256 that ``config.json`` declares (lower case hex).

    Raises:
        ArtifactError: no ``model_content_hash_value``, or not a SHA-256.
    """
    value = config.get("model_content_hash_value")
    if not isinstance(value, str) or not _SHA256.match(value.lower()):
        raise ArtifactError(
            f"{where}: model_content_hash_value must be a 64-digit SHA-256, got {value!r}"
        )
    return value.lower()


def _open(url: str, timeout_s: float) -> Any:
    try:
        return urllib.request.urlopen(url, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        raise ArtifactDownloadError(
            f"cannot download {url}: HTTP {exc.code} {exc.reason}"
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise ArtifactDownloadError(
            f"cannot download {url}: {reason}. Without a network, put the zip in the models "
            "directory and register it with a file: url"
        ) from None


def read_config(url: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """The JSON object at ``url`` (a catalog model's ``config.json``).

    Raises:
        ArtifactDownloadError: unreachable or an HTTP error; ArtifactError: not a JSON object.
    """
    with _open(url, timeout_s) as response:
        try:
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise ArtifactDownloadError(f"cannot download {url}: {exc}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"{url}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{url}: not a JSON object")
    return data


def download_verified(url: str, target: Path, sha256: str, timeout_s: float = 60.0) -> Path:
    """Download ``url`` to ``target`` only if its SHA-256 is ``sha256``; ``target``.

    The bytes go to a temporary file in ``target``'s folder, are hashed as they arrive, and
    the file is renamed onto ``target`` (atomic on one file system) after the check. On any
    failure the temporary file is removed and ``target`` is left as it was.

    Raises:
        ArtifactDownloadError: unreachable, HTTP error, or fewer bytes than ``Content-Length``.
        ArtifactError: the hash differs (a corrupt or substituted file).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest, received = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, _open(url, timeout_s) as response:
            announced = response.headers.get("Content-Length")
            while True:
                try:
                    block = response.read(_BLOCK)
                except (OSError, http.client.HTTPException) as exc:  # broke off mid-body
                    raise ArtifactDownloadError(
                        f"download of {url} broke off after {received} bytes: {exc}"
                    ) from None
                if not block:
                    break
                digest.update(block)
                out.write(block)
                received += len(block)
        if announced is not None and announced.isdigit() and received != int(announced):
            raise ArtifactDownloadError(
                f"download of {url} is truncated: {received} of {announced} bytes; "
                "nothing was kept, run the command again"
            )
        if digest.hexdigest() != sha256:
            raise ArtifactError(
                f"{url}: SHA-256 {digest.hexdigest()} does not match the published "
                f"model_content_hash_value {sha256}; the file was discarded"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def registration_from_config(
    config: Mapping[str, Any],
    entry: catalog.CatalogModel,
    model_format: ModelFormat,
    *,
    sha256: str,
    size: int,
    url: str,
) -> ModelRegistration:
    """The ``_register`` body: the catalog's identity, ``config.json``'s description and
    ``model_config`` (keys ml-commons knows), the verified hash and size, the local ``url``."""
    raw_config = config.get("model_config")
    model_config: ModelConfig | None = entry.model_config_body()
    if isinstance(raw_config, Mapping):
        known = {k: v for k, v in raw_config.items() if k in ModelConfig.model_fields}
        model_config = ModelConfig.model_validate(known) if known else model_config
    description = config.get("description")
    return ModelRegistration(
        name=entry.name,
        version=entry.version,
        description=description if isinstance(description, str) else entry.description or None,
        function_name=entry.function_name,
        model_format=model_format,
        model_content_hash_value=sha256,
        model_content_size_in_bytes=size,
        model_config=model_config,
        url=url,
    )


def write_registration(reg: ModelRegistration, yaml_path: Path, source_url: str) -> Path:
    """Write ``reg`` as a ``pipelines/models``-style YAML file (atomically)."""
    yaml_path.parent.mkdir(parents=True, exist_ok=True)
    head = (
        f"# POST _plugins/_ml/models/_register (model_id = {yaml_path.stem})\n"
        f"# fetched by `neuralpipe model fetch` from {source_url}; zip in the models dir\n"
    )
    body = yaml.safe_dump(reg.to_body(), sort_keys=False, allow_unicode=True)
    tmp = yaml_path.with_name(f".{yaml_path.name}.part")
    tmp.write_text(head + body, encoding="utf-8")
    os.replace(tmp, yaml_path)
    return yaml_path


def fetch_model(
    name: str,
    version: str | None = None,
    model_format: ModelFormat | str | None = None,
    *,
    models_dir: Path,
    yaml_dir: Path | None,
    base_url: str | None = None,
    model_id: str | None = None,
    timeout_s: float = 60.0,
) -> FetchResult:
    """Fetch, verify and describe one catalog model (see the module docstring).

    A zip already in the cache with the published hash is reused (``cached=True``).

    Raises:
        UnknownCatalogModelError: a name, version or format the catalog lacks.
        ArtifactDownloadError: the config or zip could not be downloaded whole.
        ArtifactError: no usable hash in ``config.json``, or the zip's hash differs.
    """
    entry = catalog.get_model(name, version, model_format)
    fmt = ModelFormat(model_format) if model_format is not None else entry.default_format()
    config_url = entry.config_url(fmt, base_url)
    zip_url = entry.artifact_url(fmt, base_url)
    config = read_config(config_url, timeout_s)
    sha256 = expected_sha256(config, config_url)
    relative = f"{PRETRAINED_SUBDIR}/{entry.artifact_file_name(fmt)}"
    target = models_dir / relative
    cached = target.is_file() and sha256_file(target) == sha256
    if not cached:
        log.info("downloading %s", zip_url)
        download_verified(zip_url, target, sha256, timeout_s)
    reg = registration_from_config(
        config, entry, fmt, sha256=sha256, size=target.stat().st_size, url=f"file:{relative}"
    )
    mid = model_id or default_model_id(entry.name, fmt)
    yaml_path = (
        write_registration(reg, yaml_dir / f"{mid}.yaml", zip_url) if yaml_dir is not None else None
    )
    return FetchResult(mid, target, reg, yaml_path, cached)
