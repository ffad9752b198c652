"""Reading a vendor's record once a call has returned it: a record not of the documented shape is named once
(logged, counted) and fails the work that read it (:class:`UnreadableRecord`), or is passed over where one bad
record must not stop the rest (a poll, a Help Center export)."""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, TypeVar

from core.errors import Fatal
from core.models import Source
from core.telemetry import count

log = logging.getLogger(__name__)
T = TypeVar("T")
# What reading a vendor's record raises when the record is not of the documented shape (a field missing, of
# another type, a time that is no time): the mappings are plain functions of the vendor's JSON.
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)


class UnreadableRecord(Fatal):
    """A record the vendor returned is not of the documented shape (:func:`read_record`): reading it again reads
    the same, so the work that read it fails at once, as for any other ``Fatal``."""


def record_id(record: Any, key: str) -> str:
    """The id a vendor's record gives under ``key``, for a log line ("?" when it has none)."""
    return str(record.get(key))[:100] if isinstance(record, Mapping) and record.get(key) is not None else "?"


def read_record(source: Source, kind: str, record_id: str, read: Callable[[], T]) -> T:
    """``read()``: the mapping of a vendor's record that a call has already returned.

    Args:
        source: the vendor.
        kind: what the record is (``ticket``, ``issue``, ``thread``, ``user``), for the log line and the count.
        record_id: the record's id (:func:`record_id`, or the id the hub asked for).
        read: maps the record; it makes no vendor call, so what it raises is the record's shape.

    Returns:
        What ``read()`` returns.

    Raises:
        UnreadableRecord: ``read()`` raised one of :data:`MALFORMED` (logged as ``connector.record-unreadable`` and
            counted as ``connector_records_unreadable``); the message names the source, kind and id. Anything
            else ``read()`` raises (``Retriable``, ``Fatal``, ``NotFound`` of a vendor call) passes through.
    """
    try:
        return read()
    except MALFORMED as e:
        error = f"{type(e).__name__}: {e}"[:300]
        log.warning("connector.record-unreadable", extra={"source": source.value, "kind": kind, "id": record_id, "error": error})
        count("connector_records_unreadable", source=source.value, kind=kind)
        raise UnreadableRecord(f"{source.value} {kind} {record_id} is not of the documented shape: {error}") from e


def readable(source: Source, kind: str, record_id: str, read: Callable[[], T]) -> T | None:
    """``read()``, or ``None`` when the vendor's record it reads is malformed (:func:`read_record`: logged and
    counted), so that one bad record in a poll or a Help Center export is passed over rather than failing every
    later poll at the same record (the cursor never moved past it). A ticket passed over stays in the help desk
    for its agents; an article, out of the KB until it is edited. A record found malformed by a read inside
    ``read()`` (a poll's :meth:`Connector.fetch`) is passed over too, logged and counted once. Vendor call
    failures (``Retriable``, ``Fatal``, ``NotFound``) are not caught."""
    try:
        return read_record(source, kind, record_id, read)
    except UnreadableRecord:
        return None
