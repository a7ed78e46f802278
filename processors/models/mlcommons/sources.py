"""Find the zip a ``_register`` body points at and read its bytes.

* ``url`` as a plain path or ``file:`` URL: relative paths resolve against ``models_dir``.
* ``url`` as ``http(s)://``: downloaded with urllib into ``download_dir`` (network needed).
* No ``url``: a pretrained catalog model, taken from ``artifact_dir`` or downloaded.

Example:
    >>> local_path("file:minilm.zip", Path("/m"))
    PosixPath('/m/minilm.zip')
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from processors.errors import ArtifactError
from processors.models.mlcommons import catalog
from processors.models.registration import ModelFormat

MAX_MODEL_BYTES = 4 * 1024**3
"""ml-commons refuses zips over 4 GB."""


def local_path(url: str, models_dir: Path) -> Path | None:
    """The local file ``url`` names, or ``None`` for a remote URL."""
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        return None
    if parsed.scheme not in ("", "file") and len(parsed.scheme) > 1:
        raise ArtifactError(f"unsupported model url scheme {parsed.scheme!r} in {url!r}")
    raw = unquote(parsed.path) if parsed.scheme == "file" else url
    if parsed.scheme == "file" and parsed.netloc:
        raw = f"/{parsed.netloc}{raw}"
    path = Path(raw).expanduser()
    return path if path.is_absolute() else models_dir / path


def read_zip(path: Path) -> bytes:
    """The bytes of a local zip.

    Raises:
        ArtifactError: missing, unreadable or over 4 GB.
    """
    try:
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ArtifactError(f"{path}: {size} bytes; model zips are limited to 4 GB")
        return path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot read model zip {path}: {exc.strerror}") from None


def zip_for_url(url: str, *, models_dir: Path, download_dir: Path) -> bytes:
    """The bytes behind a registration ``url`` (local, ``file:`` or http(s))."""
    path = local_path(url, models_dir)
    if path is None:
        name = Path(urlparse(url).path).name or "model.zip"
        path = download_dir / name
        if not path.is_file():
            path = catalog.download(url, path)
    return read_zip(path)


def zip_for_catalog(
    entry: catalog.CatalogModel,
    model_format: ModelFormat,
    *,
    artifact_dir: Path | None,
    download_dir: Path | None,
) -> bytes:
    """The bytes of a pretrained catalog model's zip (local artifact dir first)."""
    path = catalog.resolve_artifact(
        entry, model_format, artifact_dir=artifact_dir, download_dir=download_dir
    )
    return read_zip(path)
