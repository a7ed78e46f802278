"""Open an OpenSearch model zip (reference §10.1): verify, refuse unsafe entries, extract.

A zip holds exactly one ``.pt`` (TorchScript) or ``.onnx`` model file plus ``tokenizer.json`` at
its root; a ``SPARSE_TOKENIZE`` zip holds ``tokenizer.json`` and an optional ``idf.json`` and no
model file. Nothing in a zip is ever unpickled: TorchScript files are read by ``torch.jit.load``.

Example:
    >>> art = open_artifact("minilm.zip", model_format=ModelFormat.ONNX)  # doctest: +SKIP
    >>> art.model_file.suffix  # doctest: +SKIP
    '.onnx'
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from processors.errors import ArtifactError, ModelError
from processors.models.registration import FunctionName, ModelFormat

log = logging.getLogger(__name__)

MAX_ARTIFACT_BYTES = 4 * 1024**3
_MODEL_SUFFIXES = {".pt": ModelFormat.TORCH_SCRIPT, ".onnx": ModelFormat.ONNX}
_SUFFIX_OF = {ModelFormat.TORCH_SCRIPT: ".pt", ModelFormat.ONNX: ".onnx"}
_EXECUTABLE_SUFFIXES = {
    ".exe",
    ".dll",
    ".so",
    ".dylib",
    ".sh",
    ".bat",
    ".cmd",
    ".ps1",
    ".bin.exe",
    ".com",
    ".msi",
    ".jar",
    ".class",
    ".py",
    ".pyc",
}
_EXECUTABLE_MAGIC = (b"\x7fELF", b"MZ", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")


@dataclass(frozen=True)
class ModelArtifact:
    """A verified, extracted model zip.

    Attributes:
        zip_path: The zip it came from.
        sha256: SHA-256 hex of the zip (ml-commons ``model_content_hash_value``).
        root: Directory the zip was extracted to.
        model_file: The one ``.pt``/``.onnx`` file (None for SPARSE_TOKENIZE zips).
        tokenizer_file: ``tokenizer.json`` at the root.
        idf_file: ``idf.json`` at the root, when present.
        model_format: The format of ``model_file`` (None without a model file).

    Example:
        >>> art.tokenizer_file.name  # doctest: +SKIP
        'tokenizer.json'
    """

    zip_path: Path
    sha256: str
    root: Path
    model_file: Path | None
    tokenizer_file: Path
    idf_file: Path | None
    model_format: ModelFormat | None


def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_artifact_url(url: str, models_dir: Path) -> Path:
    """Turn a registration ``url`` into a local zip path; relative paths use ``models_dir``.

    Args:
        url: ``file:name.zip``, ``file:///abs/x.zip``, or a plain (relative or absolute) path.
        models_dir: Where relative names live (``Settings().home / "models"``).

    Raises:
        ModelError: for remote URLs (neuralpipe never downloads at run time).
    """
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https", "s3", "ftp"):
        raise ModelError(
            f"remote model url {url!r} is not fetched at run time; download the zip into "
            f"{models_dir} and use url: file:<zip name>"
        )
    raw = unquote(parsed.path if parsed.scheme == "file" else url)
    if parsed.scheme == "file" and parsed.netloc:
        raw = f"/{parsed.netloc}{raw}"
    path = Path(raw).expanduser()
    return path if path.is_absolute() else models_dir / path


def _check_entry(info: zipfile.ZipInfo) -> None:
    name = info.filename
    pure = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or pure.is_absolute() or ".." in pure.parts or ":" in name:
        raise ArtifactError(f"Model archive contains an unsafe path (zip slip): {name!r}")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ArtifactError(f"Model archive contains a symbolic link: {name!r}")
    if not info.is_dir() and Path(name).suffix.lower() in _EXECUTABLE_SUFFIXES:
        raise ArtifactError(f"Model archive contains a disallowed executable file: {name}")


def _check_magic(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    with zf.open(info) as fh:
        head = fh.read(4)
    if head.startswith(_EXECUTABLE_MAGIC):
        raise ArtifactError(f"Model archive contains a disallowed executable file: {info.filename}")


def _pick_files(
    names: list[str], model_format: ModelFormat | None, function_name: FunctionName
) -> tuple[str | None, ModelFormat | None]:
    """Choose the model file per ml-commons' rules; returns (name, format)."""
    visible = [n for n in names if not n.startswith("__MACOSX/") and not n.endswith("/")]
    if "tokenizer.json" not in visible:
        raise ArtifactError("No tokenizer file")
    models = [n for n in visible if Path(n).suffix.lower() in _MODEL_SUFFIXES]
    if function_name is FunctionName.SPARSE_TOKENIZE:
        return None, None
    if not models:
        raise ArtifactError("Can't find model file")
    if len(models) > 1:
        raise ArtifactError("Find multiple model files, but expected only one")
    found = _MODEL_SUFFIXES[Path(models[0]).suffix.lower()]
    if model_format is not None and found is not model_format:
        raise ArtifactError(
            f"Model format is {model_format.value}, but find {_SUFFIX_OF[found]} file"
        )
    return models[0], found


def _extract(zf: zipfile.ZipFile, target: Path) -> None:
    """Extract all entries into ``target`` atomically (temp dir, then rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
    try:
        for info in zf.infolist():
            dest = (tmp / info.filename).resolve()
            if not dest.is_relative_to(tmp.resolve()):
                raise ArtifactError(
                    f"Model archive contains an unsafe path (zip slip): {info.filename!r}"
                )
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            dest.chmod(0o644)
        try:
            os.replace(tmp, target)
        except OSError:  # another process extracted the same zip first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def open_artifact(
    zip_path: Path | str,
    *,
    model_format: ModelFormat | None = None,
    function_name: FunctionName = FunctionName.TEXT_EMBEDDING,
    expected_hash: str | None = None,
    cache_dir: Path | None = None,
) -> ModelArtifact:
    """Verify an OpenSearch model zip and extract it into ``cache_dir`` (keyed by its hash).

    Args:
        zip_path: The zip file.
        model_format: The registered format; None infers it from the model file's extension.
        function_name: SPARSE_TOKENIZE zips need no model file.
        expected_hash: ``model_content_hash_value``; a mismatch is refused.
        cache_dir: Extraction root; default: a ``extracted`` directory next to the zip.

    Raises:
        ArtifactError: corrupt zip, hash mismatch, unsafe entry, missing/extra/mismatched files.
    """
    path = Path(zip_path)
    if not path.is_file():
        raise ArtifactError(f"model zip not found: {path}")
    digest = sha256_file(path)
    if expected_hash is not None and digest.lower() != expected_hash.strip().lower():
        raise ArtifactError(
            f"model content changed: sha256 of {path.name} is {digest}, "
            f"registered model_content_hash_value is {expected_hash}"
        )
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            for info in infos:
                _check_entry(info)
            if sum(i.file_size for i in infos) > MAX_ARTIFACT_BYTES:
                raise ArtifactError(f"model archive {path.name} unpacks to more than 4 GB")
            for info in infos:
                if not info.is_dir():
                    _check_magic(zf, info)
            model_name, found = _pick_files(
                [i.filename for i in infos], model_format, function_name
            )
            root = (cache_dir or path.parent / "extracted") / digest[:32]
            if not root.is_dir():
                _extract(zf, root)
    except zipfile.BadZipFile as exc:
        raise ArtifactError(f"corrupt model zip {path.name}: {exc}") from exc
    idf = root / "idf.json"
    return ModelArtifact(
        zip_path=path,
        sha256=digest,
        root=root,
        model_file=root / model_name if model_name else None,
        tokenizer_file=root / "tokenizer.json",
        idf_file=idf if idf.is_file() else None,
        model_format=found,
    )
