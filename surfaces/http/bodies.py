"""The JSON body an ``/api/v1`` route takes: an object holding only the fields the route names.

The OpenAPI document declares these bodies ``additionalProperties: false``; this is where that is kept true.
An unknown field is refused rather than ignored: a misspelt ``"chanel"`` would otherwise be dropped without a
word, and the strict decoding (no NUL, no lone surrogate, in keys as in values) covers every key a client sends.
"""

from __future__ import annotations

from typing import Any, Collection

from flask import request

from connectors.inbound import json_body
from core.errors import InboundError, PayloadError


def json_object(fields: Collection[str], example: str) -> dict[str, Any]:
    """Return the request's body: a JSON object whose keys are all among ``fields``.

    Args:
        fields: the fields the route reads.
        example: the body's shape, for the message when it is not an object.

    Returns:
        The decoded object.

    Raises:
        InboundError: 415 when the body is not declared JSON; 400 when it does not decode strictly
            (:func:`connectors.inbound.json_body`: the message says why, e.g. a NUL character), is not an
            object, or holds a field outside ``fields``.
    """
    if not request.is_json:
        raise InboundError("the body must be JSON (Content-Type: application/json)", status=415)
    try:
        body = json_body(request.get_data(), "request")
    except PayloadError as e:  # the reason (not JSON, a NUL, a lone surrogate, too deep), and what to send
        raise InboundError(f"{e}: send a JSON object like {example}", status=400) from e
    if not isinstance(body, dict):
        raise InboundError(f"the body must be a JSON object like {example}", status=400)
    unknown = sorted(set(body) - set(fields))
    if unknown:
        shown = repr(unknown[0])[:80]
        raise InboundError(f"unknown field {shown}: the body takes {', '.join(sorted(fields))}", status=400)
    return body
