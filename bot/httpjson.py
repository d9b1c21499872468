"""JSON over HTTP for the web and REST channels: bounded, strict body reading and JSON errors.

Every way a body can be wrong becomes an ``HTTPException`` with a 4xx status and a sentence that
says what to send instead; ``json_error`` renders it as ``{"error": <code>, "message": <text>}``.
The checks run in the order a client would fix them: method and media type, size, bytes, UTF-8,
JSON, shape, fields. Nothing from a rejected body reaches a turn, so nothing stored can be lost.

Strings are also checked for lone surrogates (``"\\ud800"`` is valid JSON but not encodable as
UTF-8): letting one through would fail later, in the database or the response, as a 500.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

logger = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 64 * 1024
"""Far above the longest message a turn accepts (``Settings.max_message_chars``), far below memory
trouble. A longer body is refused with 413 before it is read in full."""
JSON_MEDIA_TYPE: Final = "application/json"


async def read_json_object(request: Request, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request body as a JSON object, or an ``HTTPException`` that says what is wrong."""
    media_type, _, parameters = request.headers.get("content-type", "").partition(";")
    if media_type.strip().lower() != JSON_MEDIA_TYPE:
        raise HTTPException(415, f"send the body as {JSON_MEDIA_TYPE}")
    charset = _charset(parameters)
    if charset not in (None, "utf-8", "utf8"):
        raise HTTPException(415, "send the body in UTF-8")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"the body must be at most {max_bytes} bytes")
    body = await _read_body(request, max_bytes)
    if not body.strip():
        raise HTTPException(400, "the body is empty; send a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "the body is not valid UTF-8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPException(400, f"the body is not valid JSON: {exc.msg} at character {exc.pos}") from None
    except RecursionError:
        raise HTTPException(400, "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return data


def string_field(data: dict[str, Any], name: str, *, max_chars: int | None = None, required: bool = True) -> str | None:
    """The string ``data[name]``; 400 when it is missing (and required) or not a string."""
    value = data.get(name)
    if value is None:
        if required:
            raise HTTPException(400, f'the field "{name}" is required')
        return None
    if not isinstance(value, str):
        raise HTTPException(400, f'the field "{name}" must be a string')
    if _has_surrogates(value):
        raise HTTPException(400, f'the field "{name}" contains invalid Unicode')
    if max_chars is not None and len(value) > max_chars:
        raise HTTPException(413, f'the field "{name}" must be at most {max_chars} characters')
    return value


def error_body(status: int, message: str) -> dict[str, str]:
    """``{"error": "bad_request", "message": …}``: a stable code for programs, a sentence for people."""
    try:
        code = HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        code = "error"
    return {"error": code, "message": message}


async def json_error(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler: any ``HTTPException`` (ours, 404, 405) as a JSON error."""
    assert isinstance(exc, HTTPException)
    return JSONResponse(error_body(exc.status_code, str(exc.detail)), exc.status_code, headers=exc.headers)


async def json_server_error(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for bugs: log with the traceback (ids only, no body), answer a JSON 500.

    Unlike Rasa's REST channel this never answers 200 for a failure.
    """
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body(500, "internal error; it has been logged"), 500)


async def _read_body(request: Request, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise HTTPException(413, f"the body must be at most {max_bytes} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise HTTPException(400, "the client went away before the body was complete") from None
    return b"".join(chunks)


def _charset(parameters: str) -> str | None:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
