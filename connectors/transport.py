"""What ``requests`` raises when a vendor's answer did not arrive: shared by the connectors that speak ``requests``
(zenpy's and the jira client's sessions), each of which makes it ``Retriable``."""

from __future__ import annotations

import requests

# A timeout, a refused or dropped connection, and an answer cut part way through its body: the connection broke
# inside a chunked body (``ChunkedEncodingError``, urllib3's IncompleteRead) or a compressed one ends short
# (``ContentDecodingError``). The same request tried again is answered whole.
UNDELIVERED: tuple[type[Exception], ...] = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
