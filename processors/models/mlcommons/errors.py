"""Errors of the ml-commons-shaped model registry, each with the HTTP status ml-commons uses.

All derive from :class:`~processors.errors.ModelError`; the not-found errors also from
:class:`~processors.errors.ModelNotRegisteredError`, so existing handlers keep working. The
messages are ml-commons' own, so a proxy can answer exactly as a real cluster would::

    MLCommonsError (400, status_exception or illegal_argument_exception)
    └── MLNotFoundError (404)    # Failed to find model / task / model group ...

Example:
    >>> err = model_not_found()
    >>> (err.status, str(err))
    (404, 'Failed to find model')
"""

from __future__ import annotations

from processors.errors import MODEL_NOT_FOUND as MODEL_NOT_FOUND
from processors.errors import ModelError, ModelNotRegisteredError

TASK_NOT_FOUND = "Failed to find task"
GROUP_NOT_FOUND = "Failed to find model group with the provided model group id: {}"
GROUP_NAME_TAKEN = "The name you provided is already being used by a model group with ID: {}."
GROUP_HAS_MODELS = "Cannot delete the model group when it has associated model versions"
DELETE_DEPLOYED = (
    "Model cannot be deleted in deploying or deployed state. Try undeploy model first then delete"
)
NOT_DEPLOYED = "Model not ready yet. Please deploy the model first."
CONTENT_CHANGED = "model content changed"
HASH_REQUIRED = (
    "Model content Hash code need to be provided when register via url. "
    "Please calculate sha 256 Hash code."
)


STATUS_EXCEPTION = "status_exception"
ILLEGAL_ARGUMENT = "illegal_argument_exception"


class MLCommonsError(ModelError):
    """A request the registry refuses, answered as ml-commons answers it.

    ``status`` is the HTTP status; ``error_type`` the OpenSearch error type, which follows the
    Java exception ml-commons throws: ``status_exception`` for its
    ``OpenSearchStatusException``s (the default), ``illegal_argument_exception`` for the input
    checks that throw ``IllegalArgumentException`` (empty ``text_docs``, a ``model_config``
    without ``embedding_dimension``, ...).
    """

    def __init__(self, message: str, status: int = 400, error_type: str = STATUS_EXCEPTION) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


def illegal_argument(message: str) -> MLCommonsError:
    """An ``IllegalArgumentException`` of ml-commons: 400 ``illegal_argument_exception``."""
    return MLCommonsError(message, 400, ILLEGAL_ARGUMENT)


class MLNotFoundError(MLCommonsError, ModelNotRegisteredError):
    """A model, task or model group id that the registry does not have (404)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=404)


def model_not_found() -> MLNotFoundError:
    """``Failed to find model``."""
    return MLNotFoundError(MODEL_NOT_FOUND)


def task_not_found() -> MLNotFoundError:
    """``Failed to find task``."""
    return MLNotFoundError(TASK_NOT_FOUND)


def group_not_found(group_id: str) -> MLNotFoundError:
    """``Failed to find model group with the provided model group id: <id>``."""
    return MLNotFoundError(GROUP_NOT_FOUND.format(group_id))
