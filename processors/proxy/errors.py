"""OpenSearch-shaped errors: ``{"error": {"root_cause": [...], "type", "reason"}, "status"}``.

:func:`error_response` builds one; :func:`response_for` turns any exception raised while
serving a request into the answer OpenSearch (or ml-commons) would give:

=====================================================  ======  ================================
exception                                              status  ``error.type``
=====================================================  ======  ================================
:class:`ProxyError` (bad body, too large, upstream)    its own its own
opensearch-py ``TransportError`` from the upstream      its own the upstream's body, unchanged
opensearch-py ``ConnectionError`` (upstream down)       502     ``connect_exception``
``MLCommonsError``                                      its own its ``error_type``
``ModelNotRegisteredError``                             404     ``status_exception``
``ConfigError`` (``InvalidQueryError`` too)             400     its ``error_type``
``ModelError`` / processor failure                      400     ``illegal_argument_exception``
anything else                                           500     ``exception`` (logged)
=====================================================  ======  ================================

Example:
    >>> error_body("boom", "parse_exception")["error"]["root_cause"]
    [{'type': 'parse_exception', 'reason': 'boom'}]
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from processors.errors import (
    ConfigError,
    ModelError,
    ModelNotRegisteredError,
    ProcessorRuntimeError,
)
from processors.models.mlcommons.errors import MLCommonsError

logger = logging.getLogger(__name__)
JSONObject = dict[str, Any]
Endpoint = Callable[[Request], Awaitable[Response]]


class ProxyError(Exception):
    """An error the proxy answers itself, with OpenSearch's shape."""

    def __init__(
        self, status: int, error_type: str, reason: str, *, caused_by: JSONObject | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.error_type = error_type
        self.reason = reason
        self.caused_by = caused_by
        """The wrapped error, shown as ``error.caused_by`` (not in ``root_cause``)."""


class UpstreamUnavailable(ProxyError):
    """The upstream OpenSearch could not be reached (502) or did not answer in time (504)."""

    def __init__(self, reason: str, *, timeout: bool = False) -> None:
        kind = "timeout_exception" if timeout else "connect_exception"
        super().__init__(504 if timeout else 502, kind, reason)


class BodyTooLarge(ProxyError):
    """A request body over the configured limit (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            "content_too_long_exception",
            f"the request body is larger than the limit of [{limit}] bytes",
        )


def error_body(
    reason: str,
    error_type: str,
    status: int = 400,
    *,
    caused_by: JSONObject | None = None,
    **extra: Any,
) -> JSONObject:
    """The JSON OpenSearch answers for a failed request.

    >>> error_body("failed to parse", "mapper_parsing_exception",
    ...            caused_by={"type": "json_parse_exception", "reason": "x"})["error"]["caused_by"]
    {'type': 'json_parse_exception', 'reason': 'x'}
    """
    cause = {"type": error_type, "reason": reason, **extra}
    error = {"root_cause": [cause], **cause}
    if caused_by is not None:
        error["caused_by"] = caused_by
    return {"error": error, "status": status}


def error_response(status: int, error_type: str, reason: str) -> JSONResponse:
    """:func:`error_body` as a response."""
    return JSONResponse(error_body(reason, error_type, status), status_code=status)


def json_error(exc: json.JSONDecodeError) -> ProxyError:
    """A malformed JSON body, named as OpenSearch's parser (Jackson) names it."""
    kind = "json_e_o_f_exception" if exc.pos >= len(exc.doc.rstrip()) else "json_parse_exception"
    where = f"[line: {exc.lineno}, column: {exc.colno}]"
    return ProxyError(400, kind, f"{exc.msg}\n at {where}")


def parse_json(raw: bytes, *, allow_empty: bool = True) -> Any:
    """A request body as JSON (``None`` when empty); malformed JSON raises a 400 ProxyError."""
    if not raw.strip():
        if allow_empty:
            return None
        raise ProxyError(400, "parse_exception", "request body is required")
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise ProxyError(400, "json_parse_exception", f"invalid UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise json_error(exc) from None


def json_object(raw: bytes, *, allow_empty: bool = True) -> JSONObject:
    """A request body that must be a JSON object (``{}`` when empty and allowed)."""
    value = parse_json(raw, allow_empty=allow_empty)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProxyError(400, "parse_exception", "request body must be a JSON object")
    return value


def unparsable_document(exc: ProxyError) -> ProxyError:
    """A document body that is not a JSON object, as the node's mapper refuses it (400
    ``mapper_parsing_exception`` "failed to parse", the parser's error as ``caused_by``); an
    empty body keeps its own error ("request body is required")."""
    if exc.error_type.startswith("json_"):
        cause = {"type": exc.error_type, "reason": exc.reason}
    elif exc.reason == "request body must be a JSON object":
        cause = {"type": "not_x_content_exception", "reason": "Compressor detection can only be "
                 "called on some xcontent bytes or compressed xcontent bytes"}  # fmt: skip
    else:
        return exc
    return ProxyError(400, "mapper_parsing_exception", "failed to parse", caused_by=cause)


def response_for(exc: BaseException) -> JSONResponse:
    """The answer for an exception raised while serving a request."""
    if isinstance(exc, ProxyError) and exc.caused_by is not None:
        body = error_body(exc.reason, exc.error_type, exc.status, caused_by=exc.caused_by)
        return JSONResponse(body, status_code=exc.status)
    status, error_type, reason = classify(exc)
    if status == 0:  # an upstream error: its own body, unchanged
        info = getattr(exc, "info", None)
        code = int(getattr(exc, "status_code", 500))
        body = info if isinstance(info, dict) else error_body(str(info or exc), "exception", code)
        return JSONResponse(body, status_code=code)
    return error_response(status, error_type, reason)


def classify(exc: BaseException) -> tuple[int, str, str]:
    """``(status, type, reason)``; status 0 means: an upstream answer to return as it is."""
    if isinstance(exc, ProxyError):
        return exc.status, exc.error_type, exc.reason
    upstream = _upstream_error(exc)
    if upstream is not None:
        return upstream
    if isinstance(exc, MLCommonsError):
        return exc.status, exc.error_type, str(exc)
    if isinstance(exc, ModelNotRegisteredError):
        return 404, "status_exception", str(exc)
    if isinstance(exc, ConfigError):
        return 400, exc.error_type, str(exc)
    if isinstance(exc, ModelError | ProcessorRuntimeError):
        return 400, "illegal_argument_exception", str(exc)
    logger.exception("unexpected error while serving a request", exc_info=exc)
    return 500, "exception", f"{type(exc).__name__}: {exc}"


def _upstream_error(exc: BaseException) -> tuple[int, str, str] | None:
    from opensearchpy.exceptions import ConnectionError as OSConnectionError
    from opensearchpy.exceptions import ConnectionTimeout, TransportError

    if isinstance(exc, ConnectionTimeout):
        return 504, "timeout_exception", f"upstream OpenSearch did not answer: {exc.error}"
    if isinstance(exc, OSConnectionError):
        return 502, "connect_exception", f"upstream OpenSearch unreachable: {exc.error}"
    if isinstance(exc, TransportError) and isinstance(exc.status_code, int):
        return 0, "", ""
    return None


def guarded(endpoint: Endpoint) -> Endpoint:
    """An endpoint whose exceptions become OpenSearch-shaped answers (see :func:`classify`)."""

    @functools.wraps(endpoint)
    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:
            return response_for(exc)

    return run
