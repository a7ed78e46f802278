"""The one exception tree of neuralpipe.

Every error the library raises on purpose derives from :class:`NeuralpipeError`::

    NeuralpipeError
    ├── ConfigError                     # load time: bad pipeline, mapping, model body, settings
    │   ├── UnknownProcessorError       # unknown processor type, with a did-you-mean
    │   ├── InvalidProcessorConfigError # one violation of a processor's options, with its JSON path
    │   ├── UnsupportedFeatureError     # valid in OpenSearch, not emulated by neuralpipe
    │   ├── InvalidQueryError           # a search request the plugins would refuse (HTTP 400)
    │   └── CrossReferenceError         # pipeline vs mapping vs model mismatch
    │       └── FingerprintMismatchError # index vectors were made another way (model, pooling...)
    ├── RegistryError                   # a processor type registered twice
    ├── NodeError                       # the local OpenSearch node: install, start, stop
    │   ├── PrerequisiteError           # Java or Maven missing, unusable Java version
    │   └── NodeStartError              # port in use, node died at start (carries the log tail)
    ├── ModelError                      # model artifacts and runtimes
    │   ├── ModelNotRegisteredError     # model_id unknown to the registry and pipelines/models/
    │   ├── ArtifactError               # bad zip: hash, zip-slip, missing tokenizer / model file
    │   │   └── ArtifactDownloadError       # a zip or config.json not served: HTTP error, cut short
    │   ├── BackendUnavailableError     # torch / onnxruntime not installed (says the pip command)
    │   └── ModelMemoryError            # the model would not fit in memory (with the numbers)
    ├── IndexingError                   # a bulk run could not go on
    │   ├── CheckpointError             # --resume with a checkpoint of other inputs, unreadable
    │   └── ClusterUnavailableError     # node unreachable or overloaded too long; checkpointed
    └── ProcessorRuntimeError           # one document failed in one processor

The CLI maps ``ConfigError`` to exit code 2 and every other ``NeuralpipeError`` to exit code 1.
Errors raised by opensearch-py (``TransportError`` and friends) are not wrapped by the library.
"""

from __future__ import annotations

import re

ILLEGAL_ARGUMENT = "illegal_argument_exception"
PARSE_EXCEPTION = "parse_exception"

_CONFIGURATION_UTILS = re.compile(
    r"^(?:\[[^\]]+\] (?:required property is missing|property isn't a |property cannot be "
    r"converted to |batch size must be a positive integer)"
    r"|processor \[[^\]]+\] doesn't support one or more provided configuration parameters"
    r"|No processor type exists with name \[)"
)


def configuration_error_type(message: str) -> str:
    """The OpenSearch error type of one configuration problem.

    OpenSearch core reads processor options with ``ConfigurationUtils``, whose checks (a
    missing required property, a value of the wrong type, an option the processor does not
    take) throw ``OpenSearchParseException``: ``parse_exception``. Everything else the plugins
    check throws ``IllegalArgumentException``: ``illegal_argument_exception``.

    >>> configuration_error_type("[model_id] required property is missing")
    'parse_exception'
    >>> configuration_error_type("Unknown prune type: top_p")
    'illegal_argument_exception'
    """
    return PARSE_EXCEPTION if _CONFIGURATION_UTILS.match(message) else ILLEGAL_ARGUMENT


class NeuralpipeError(Exception):
    """Base of every error neuralpipe raises on purpose."""


class ConfigError(NeuralpipeError):
    """A body, a file or a setting is invalid. Raised at load time, before any work.

    ``error_type`` is the OpenSearch error type the proxy reports it with
    (``illegal_argument_exception`` unless given; see :func:`configuration_error_type`).
    """

    error_type: str = ILLEGAL_ARGUMENT
    reason: str
    """The first problem alone, as OpenSearch reports one error (the message lists them all)."""

    def __init__(
        self, message: str, error_type: str | None = None, *, reason: str | None = None
    ) -> None:
        super().__init__(message)
        if error_type is not None:
            self.error_type = error_type
        self.reason = reason if reason is not None else message


class UnknownProcessorError(ConfigError):
    """A processor type name that is not registered."""


class InvalidProcessorConfigError(ConfigError):
    """Options of a processor are invalid; ``problems`` lists ``(option, message)`` pairs."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        self.problems = problems or [("", message)]
        super().__init__(message, configuration_error_type(self.problems[0][1]))


class UnsupportedFeatureError(ConfigError):
    """Valid in OpenSearch, but not emulated: refused, never silently skipped."""


class InvalidQueryError(ConfigError):
    """A search request the plugins would refuse with HTTP 400, in the plugin's own words.

    ``error_type`` is the OpenSearch error type the proxy reports (``parsing_exception`` for
    query DSL syntax, ``illegal_argument_exception`` for invalid values).
    """

    def __init__(self, message: str, error_type: str = ILLEGAL_ARGUMENT) -> None:
        super().__init__(message, error_type)


class CrossReferenceError(ConfigError):
    """Pipelines, mappings and models disagree (field types, vector dimensions)."""


class FingerprintMismatchError(CrossReferenceError):
    """The index's ``_meta`` says its vectors were made differently from this pipeline's."""


class RegistryError(NeuralpipeError):
    """A processor type name was registered twice."""


class NodeError(NeuralpipeError):
    """The local OpenSearch node could not be installed, started or stopped."""


class PrerequisiteError(NodeError):
    """A tool the node needs (Java, Maven) is missing or unusable."""


class NodeStartError(NodeError):
    """The node did not become healthy. ``log_tail`` holds the last lines of its log."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        full = (
            f"{message}\n--- last lines of the node's log ---\n{log_tail}" if log_tail else message
        )
        super().__init__(full)
        self.log_tail = log_tail


class ModelError(NeuralpipeError):
    """A model artifact is invalid or a model runtime failed."""


MODEL_NOT_FOUND = "Failed to find model"
"""ml-commons' reason for a model id it does not know (the runtime's store and the registry)."""


class ModelNotRegisteredError(ModelError):
    """A model id that no registration knows."""


class ArtifactError(ModelError):
    """A model zip that must not be loaded: corrupt, tampered, incomplete or unsafe."""


class ArtifactDownloadError(ArtifactError):
    """A model zip or its ``config.json`` could not be downloaded whole (unreachable, an HTTP
    error status, fewer bytes than announced)."""


class BackendUnavailableError(ModelError):
    """The runtime a model needs (torch, onnxruntime) is not installed."""


class ModelMemoryError(ModelError):
    """Loading the model would exceed the memory available."""


class IndexingError(NeuralpipeError):
    """A bulk indexing run stopped; what was acknowledged is in its checkpoint."""


class CheckpointError(IndexingError):
    """A checkpoint cannot be used: unreadable, or written for other inputs."""


class ClusterUnavailableError(IndexingError):
    """The cluster stayed unreachable or overloaded past the retry window; ``--resume`` later."""


class ProcessorRuntimeError(NeuralpipeError):
    """A processor failed on one document."""

    def __init__(
        self,
        message: str,
        *,
        processor_type: str = "",
        tag: str | None = None,
        doc_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.processor_type = processor_type
        self.tag = tag
        self.doc_id = doc_id
