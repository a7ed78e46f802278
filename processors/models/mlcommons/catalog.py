"""The OpenSearch-provided pretrained models (reference §11.2), as data.

``catalog.json`` lists the 19 models of OpenSearch's "supported pretrained models" page:
11 sentence transformers (TEXT_EMBEDDING), 6 neural-sparse models (SPARSE_ENCODING /
SPARSE_TOKENIZE) and 2 cross-encoders (TEXT_SIMILARITY). Artifact and config URLs are not
stored: they follow ml-commons' rule::

    <base>/<name>/<version>/<fmt>/config.json
    <base>/<name>/<version>/<fmt>/<name minus first segment, '/'->'_'>-<version>-<fmt>.zip

(``<fmt>`` is the format in lower case: ``torch_script``, ``onnx``.)

Registering a catalog model needs its zip: a local ``artifact_dir`` holding the file named as
the URL's last segment (offline), or a download of the URL where a network exists.

Example:
    >>> entry = get_model("huggingface/sentence-transformers/all-MiniLM-L6-v2")
    >>> entry.embedding_dimension
    384
    >>> entry.artifact_file_name(ModelFormat.ONNX)
    'sentence-transformers_all-MiniLM-L6-v2-1.0.1-onnx.zip'
"""

from __future__ import annotations

import difflib
import json
import logging
import shutil
import urllib.error
import urllib.request
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from processors.errors import ArtifactError, ConfigError
from processors.models.bundled import pretrained_zip
from processors.models.registration import (
    FrameworkType,
    FunctionName,
    ModelConfig,
    ModelFormat,
    ModelRegistration,
)

logger = logging.getLogger(__name__)

PRETRAINED_SUBDIR = "pretrained"
"""Catalog zips live in ``<models dir>/pretrained/`` under their download file names (where
``neuralpipe model fetch`` puts them and the proxy's ``_register`` looks), apart from the zips
built locally."""

NOT_IN_LIST = "This model is not in the pre-trained model list, please check your parameters."
"""ml-commons' error for an unknown pretrained name / version / format."""

Category = Literal["sentence_transformers", "sparse", "cross_encoder"]


class UnknownCatalogModelError(ConfigError):
    """A name, version or format that the pretrained catalog does not have."""


class CatalogModel(BaseModel):
    """One pretrained model of the catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str
    category: Category
    function_name: FunctionName
    model_formats: tuple[ModelFormat, ...]
    embedding_dimension: int | None = None
    model_type: str | None = None
    framework_type: FrameworkType | None = None
    auto_truncation: bool = True
    description: str = ""

    def _base(self, model_format: ModelFormat, base_url: str | None = None) -> str:
        root = (base_url or _document().base_url).rstrip("/")
        return f"{root}/{self.name}/{self.version}/{model_format.value.lower()}"

    def artifact_file_name(self, model_format: ModelFormat) -> str:
        """The zip's file name, e.g. ``sentence-transformers_all-MiniLM-L6-v2-1.0.1-onnx.zip``."""
        short = self.name.split("/", 1)[1].replace("/", "_")
        return f"{short}-{self.version}-{model_format.value.lower()}.zip"

    def artifact_url(self, model_format: ModelFormat, base_url: str | None = None) -> str:
        """Where artifacts.opensearch.org (or a mirror at ``base_url``) serves the zip."""
        return f"{self._base(model_format, base_url)}/{self.artifact_file_name(model_format)}"

    def config_url(self, model_format: ModelFormat, base_url: str | None = None) -> str:
        """Where artifacts.opensearch.org (or a mirror at ``base_url``) serves ``config.json``."""
        return f"{self._base(model_format, base_url)}/config.json"

    def default_format(self) -> ModelFormat:
        """TORCH_SCRIPT, the format every catalog model has."""
        return self.model_formats[0]

    def model_config_body(self) -> ModelConfig | None:
        """The ``model_config`` fields the catalog can state (None for sparse models)."""
        if self.model_type is None and self.embedding_dimension is None:
            return None
        return ModelConfig(
            model_type=self.model_type,
            embedding_dimension=self.embedding_dimension,
            framework_type=self.framework_type,
        )

    def registration(
        self, model_format: ModelFormat, *, url: str | None = None, content_hash: str | None = None
    ) -> ModelRegistration:
        """The ``_register`` body ml-commons would build from the model's config.json."""
        return ModelRegistration(
            name=self.name,
            version=self.version,
            description=self.description or None,
            function_name=self.function_name,
            model_format=model_format,
            model_config=self.model_config_body(),
            model_content_hash_value=content_hash,
            url=url,
        )


class _CatalogDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    base_url: str
    models: tuple[CatalogModel, ...]


@cache
def _document() -> _CatalogDocument:
    text = (
        resources.files("processors.models.mlcommons").joinpath("catalog.json").read_text("utf-8")
    )
    return _CatalogDocument.model_validate(json.loads(text))


def default_base_url() -> str:
    """OpenSearch's published artifact root, ``https://artifacts.opensearch.org/models/ml-models``."""
    return _document().base_url


def all_models() -> tuple[CatalogModel, ...]:
    """Every catalog model, in the documentation's order."""
    return _document().models


def names() -> list[str]:
    """The catalog's model names."""
    return [m.name for m in all_models()]


def _did_you_mean(name: str) -> str:
    """A `` Did you mean '<full name>'?`` suffix; also matches a name without its prefix."""
    close = difflib.get_close_matches(name, names(), n=1, cutoff=0.6)
    if close:
        return f" Did you mean '{close[0]}'?"
    by_short = {m.name.rsplit("/", 1)[-1].lower(): m.name for m in all_models()}
    short = name.rsplit("/", 1)[-1].lower()
    close = difflib.get_close_matches(short, list(by_short), n=1, cutoff=0.6)
    return f" Did you mean '{by_short[close[0]]}'?" if close else ""


def get_model(
    name: str, version: str | None = None, model_format: ModelFormat | str | None = None
) -> CatalogModel:
    """The catalog entry for ``name`` (and ``version`` / ``model_format`` when given).

    Raises:
        UnknownCatalogModelError: ml-commons' "not in the pre-trained model list" text, plus a
            did-you-mean for near names or the versions / formats that exist.
    """
    entry = next((m for m in all_models() if m.name == name), None)
    if entry is None:
        hint = _did_you_mean(name)
        raise UnknownCatalogModelError(f"{NOT_IN_LIST} Unknown model '{name}'.{hint}")
    if version is not None and version != entry.version:
        raise UnknownCatalogModelError(
            f"{NOT_IN_LIST} '{name}' has version {entry.version}, not {version}."
        )
    if model_format is not None:
        fmt = ModelFormat(model_format) if isinstance(model_format, str) else model_format
        if fmt not in entry.model_formats:
            have = ", ".join(f.value for f in entry.model_formats)
            raise UnknownCatalogModelError(f"{NOT_IN_LIST} '{name}' is available as {have} only.")
    return entry


def find_model(
    name: str, version: str | None = None, model_format: ModelFormat | str | None = None
) -> CatalogModel | None:
    """Like :func:`get_model`, but ``None`` instead of an error."""
    try:
        return get_model(name, version, model_format)
    except (UnknownCatalogModelError, ValueError):
        return None


def resolve_artifact(
    entry: CatalogModel,
    model_format: ModelFormat,
    *,
    artifact_dir: Path | None = None,
    download_dir: Path | None = None,
    timeout_s: float = 60.0,
) -> Path:
    """A local path to the catalog model's zip.

    ``artifact_dir/<file name>`` is used when it exists (offline), then a copy kept in
    ``download_dir``, then the package's own copy of the artifact's data (the doc-only
    tokenizer, :func:`~processors.models.bundled.pretrained_zip`). Otherwise, with a
    ``download_dir``, the URL is downloaded there (kept for the next time).

    Raises:
        ArtifactError: the file is not in ``artifact_dir`` and cannot be downloaded; the
            message says where to put it.
    """
    file_name = entry.artifact_file_name(model_format)
    url = entry.artifact_url(model_format)
    for folder in (artifact_dir, download_dir):
        if folder is not None and (folder / file_name).is_file():
            return folder / file_name
    bundled = pretrained_zip(entry.name)
    if bundled is not None:
        return bundled
    put = (
        f"put it in {artifact_dir}" if artifact_dir else "pass its folder as the artifact directory"
    )
    if download_dir is None:
        where = f" in {artifact_dir}" if artifact_dir else ""
        raise ArtifactError(f"pretrained model zip {file_name} not found{where}; download {url} "
                            f"and {put}")  # fmt: skip
    return download(url, download_dir / file_name, timeout_s, offline=put)


def download(url: str, target: Path, timeout_s: float = 60.0, *, offline: str = "") -> Path:
    """Download ``url`` to ``target`` (via a ``.part`` file); ``target``.

    Args:
        offline: Where to put the file by hand, for the message (default: "pass its folder
            as the artifact directory").

    Raises:
        ArtifactError: unreachable or unwritable, with what to do offline.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    logger.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise ArtifactError(
            f"cannot download {url}: {reason}. Without network, download the zip elsewhere "
            f"and {offline or 'pass its folder as the artifact directory'}"
        ) from None
    partial.replace(target)
    return target


def fetch_config(
    entry: CatalogModel, model_format: ModelFormat, timeout_s: float = 30.0
) -> dict[str, object]:
    """The model's ``config.json`` from artifacts.opensearch.org (network needed).

    Raises:
        ArtifactError: unreachable, or not JSON.
    """
    url = entry.config_url(model_format)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            data = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, TimeoutError, ValueError) as exc:
        raise ArtifactError(f"cannot read {url}: {getattr(exc, 'reason', exc)}") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{url}: not a JSON object")
    return data
