"""The doc-only tokenizer zips that ship inside the package (``processors/models/data/``).

``bert-uncased.zip`` and ``mbert-uncased.zip`` each hold a ``tokenizer.json`` and an
``idf.json``: the SPARSE_TOKENIZE artifacts that ml-commons publishes as
``amazon/neural-sparse/opensearch-neural-sparse-tokenizer-v1`` and its multilingual sibling
(Apache-2.0; origin and checksums in ``processors/models/data/README.md``). They are a few MB,
so they travel with the code: a clone or a wheel needs nothing beside it to build the
``neural_sparse`` analyzers.

Example:
    >>> tokenizer_zip("bert-uncased").name
    'bert-uncased.zip'
    >>> tokenizer_zip("bert-uncased").is_file()
    True
"""

from __future__ import annotations

from pathlib import Path

from processors.errors import ArtifactError

DATA_DIR = Path(__file__).resolve().parent / "data"
TOKENIZERS = ("bert-uncased", "mbert-uncased")
"""The bundled doc-only tokenizers, by the analyzer names ``neural_sparse`` accepts."""
PRETRAINED = {
    "amazon/neural-sparse/opensearch-neural-sparse-tokenizer-v1": "bert-uncased",
    "amazon/neural-sparse/opensearch-neural-sparse-tokenizer-multilingual-v1": "mbert-uncased",
}
"""ml-commons' pretrained names of the artifacts the bundled zips come from."""


def tokenizer_zip(name: str) -> Path:
    """The bundled zip of tokenizer ``name`` (one of :data:`TOKENIZERS`).

    Raises:
        ArtifactError: an unknown name, or a package installed without its data files.
    """
    if name not in TOKENIZERS:
        raise ArtifactError(
            f"no bundled tokenizer {name!r}; the bundled ones are {', '.join(TOKENIZERS)}"
        )
    path = DATA_DIR / f"{name}.zip"
    if not path.is_file():
        raise ArtifactError(f"bundled tokenizer {path} is missing: reinstall neuralpipe")
    return path


def pretrained_zip(name: str) -> Path | None:
    """The bundled zip holding the data of the pretrained model ``name``, or ``None``.

    >>> pretrained_zip("amazon/neural-sparse/opensearch-neural-sparse-tokenizer-v1").name
    'bert-uncased.zip'
    >>> pretrained_zip("huggingface/sentence-transformers/all-MiniLM-L6-v2") is None
    True
    """
    tokenizer = PRETRAINED.get(name)
    return None if tokenizer is None else tokenizer_zip(tokenizer)
