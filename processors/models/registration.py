"""The body of ``POST _plugins/_ml/models/_register`` for local models (reference §10-11).

``pipelines/models/<model_id>.yaml`` holds exactly this body; its ``url`` may also be a local
path or ``file:`` URL to an OpenSearch-format zip, resolved against the models directory.

Example:
    >>> reg = ModelRegistration.model_validate({
    ...     "name": "huggingface/sentence-transformers/all-MiniLM-L6-v2", "version": "1.0.1",
    ...     "model_format": "ONNX", "function_name": "TEXT_EMBEDDING",
    ...     "model_config": {"model_type": "bert", "embedding_dimension": 384,
    ...                      "framework_type": "sentence_transformers"}})
    >>> reg.model_config_.embedding_dimension
    384
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class FunctionName(StrEnum):
    """ml-commons function names of the local models neuralpipe runs."""

    TEXT_EMBEDDING = "TEXT_EMBEDDING"
    SPARSE_ENCODING = "SPARSE_ENCODING"
    SPARSE_TOKENIZE = "SPARSE_TOKENIZE"
    TEXT_SIMILARITY = "TEXT_SIMILARITY"
    QUESTION_ANSWERING = "QUESTION_ANSWERING"
    """Extractive QA (ml-commons 3.x has this function for local models)."""
    NER = "NER"
    """Token classification with IOB tags (neuralpipe's; Elastic's ``ner`` task)."""
    FILL_MASK = "FILL_MASK"
    """Masked-LM head (neuralpipe's; Elastic's ``fill_mask`` task)."""
    TEXT_CLASSIFICATION = "TEXT_CLASSIFICATION"
    """Sequence classification (neuralpipe's; Elastic's ``text_classification`` task)."""
    ZERO_SHOT_CLASSIFICATION = "ZERO_SHOT_CLASSIFICATION"
    """An NLI sequence classifier (neuralpipe's; Elastic's ``zero_shot_classification``)."""


class ModelFormat(StrEnum):
    """Artifact formats: one ``.onnx`` or one ``.pt`` in the zip."""

    ONNX = "ONNX"
    TORCH_SCRIPT = "TORCH_SCRIPT"


class FrameworkType(StrEnum):
    SENTENCE_TRANSFORMERS = "SENTENCE_TRANSFORMERS"
    HUGGINGFACE_TRANSFORMERS = "HUGGINGFACE_TRANSFORMERS"
    HUGGINGFACE_TRANSFORMERS_NEURON = "HUGGINGFACE_TRANSFORMERS_NEURON"


class PoolingMode(StrEnum):
    MEAN = "mean"
    MEAN_SQRT_LEN = "mean_sqrt_len"
    MAX = "max"
    WEIGHTEDMEAN = "weightedmean"
    CLS = "cls"
    LASTTOKEN = "lasttoken"
    NONE = "none"


class ModelConfig(BaseModel):
    """``model_config`` of a local model (ml-commons' own keys)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model_type: str | None = Field(
        default=None, description="bert, distilbert, roberta, mpnet, ..."
    )
    embedding_dimension: int | None = Field(
        default=None, description="Vector size (TEXT_EMBEDDING)."
    )
    framework_type: FrameworkType | None = Field(
        default=None, description="How the artifact was traced."
    )
    pooling_mode: PoolingMode | None = Field(default=None, description="Pooling for raw exports.")
    normalize_result: bool | None = Field(default=None, description="L2-normalise pooled vectors.")
    model_max_length: int | None = Field(default=None, description="Tokenizer max length hint.")
    all_config: str | None = Field(default=None, description="HF config.json as a string.")
    additional_config: dict[str, Any] | None = Field(default=None, description="e.g. space_type.")
    query_prefix: str | None = Field(default=None, description="Prefix for query texts.")
    passage_prefix: str | None = Field(default=None, description="Prefix for passage texts.")

    @field_validator("framework_type", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("pooling_mode", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class ModelRegistration(BaseModel):
    """The ``_register`` body of a local model."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(
        description="Model name, e.g. huggingface/sentence-transformers/all-MiniLM-L6-v2."
    )
    version: str = Field(default="1.0.0", description="The artifact's version string.")
    description: str | None = Field(default=None, description="Free text.")
    model_group_id: str | None = Field(default=None, description="Group to add the model to.")
    function_name: FunctionName = Field(default=FunctionName.TEXT_EMBEDDING, description="Task.")
    model_format: ModelFormat | None = Field(default=None, description="ONNX or TORCH_SCRIPT.")
    model_content_hash_value: str | None = Field(default=None, description="SHA-256 of the zip.")
    model_content_size_in_bytes: int | None = Field(default=None, description="Zip size.")
    total_chunks: int | None = Field(
        default=None, description="Chunk count, for the chunked upload (`_register_meta`) flow."
    )
    model_config_: ModelConfig | None = Field(
        default=None, alias="model_config", description="Config."
    )
    url: str | None = Field(default=None, description="Zip location: URL, path or file: URL.")
    is_enabled: bool | None = Field(default=None, description="ml-commons enable flag.")

    def to_body(self) -> dict[str, Any]:
        """The JSON body, as OpenSearch takes it."""
        body: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return body
