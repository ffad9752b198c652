"""The id a vendor's answer to a write gives what the write made (a ticket, a comment, a message), checked before
the hub keeps it.

A hostile or broken vendor may answer a write with an id of 10,000 characters, a number where text belongs, or
none. Kept, it is junk in the outbox row's result; built into a ticket's reference it does not fit the columns
that hold one (``tickets.escalated_to``, the follow-up writes' keys: 255 characters), and PostgreSQL refused the
row that records the write, at every retry. Such an answer is a record not of the documented shape
(:func:`connectors.records.read_record`): the write's row fails once, logged and counted, its error saying that the
write was made. The row keeps that error, so a re-queue (``hub retry``) or the answer deadline's sweep asks the
vendor for the write before making it again (:func:`core.outbox.may_have_written`). A look-up for a write an earlier
attempt may have made that lists a record of the hub's with such an id fails the write the same way
(:func:`listed_unreadable`): the record may be the write, and passed over the write would be made twice.
"""

from __future__ import annotations

from typing import Callable, Mapping, NoReturn

from connectors.records import read_record
from core.models import Source

MAX_ID_BITS = 64  # a vendor's numeric ids are 64-bit integers (Zendesk's, Jira's)


def written_id(source: Source, kind: str, value: object, is_id: Callable[[str], bool]) -> str:
    """The id a vendor's answer to a write gives the ``kind`` it made, as text.

    Args:
        source: the vendor.
        kind: what the write made (``ticket``, ``comment``, ``message``), for the error, the log line and the count.
        value: the id as the answer gives it (text, or a JSON number).
        is_id: whether a text is an id of that kind as the vendor documents it (bounded: ids end up in keys).

    Returns:
        The id (a number as its digits).

    Raises:
        UnreadableRecord: ``value`` is no such id (``zendesk ticket just made is not of the documented shape:
            ValueError: the write was made, but its id is a text of 10000 characters``).
    """
    def read() -> str:
        text = id_text(value, is_id)
        if text is None:
            raise ValueError(f"the write was made, but its id is {_described(value)}")
        return text

    return read_record(source, kind, "just made", read)


def id_text(value: object, is_id: Callable[[str], bool]) -> str | None:
    """``value`` (text, or a JSON number) as the id it is (:func:`written_id`), or ``None`` when it is no such id."""
    text = value
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() <= MAX_ID_BITS:
        text = str(value)
    return text if isinstance(text, str) and is_id(text) else None


def listed_unreadable(source: Source, kind: str, value: object) -> NoReturn:
    """Fail the write being retried, once: the look-up for it (``Connector.already_wrote``) lists a ``kind`` of the
    hub's own that may be that write, but whose id (``value``) is no id, so the vendor cannot be asked whether it
    is (a Jira comment's key is a property asked by the comment's id). Passed over, the write would be made a
    second time; failed, the row keeps the error, and a re-queue asks the vendor again before any write.

    Raises:
        UnreadableRecord: always (``jira comment listed is not of the documented shape: ValueError: the write may
            have been made (a comment of the hub's is listed), but its id is a text of 10000 characters``).
    """
    def read() -> NoReturn:
        raise ValueError(f"the write may have been made (a {kind} of the hub's is listed), but its id is {_described(value)}")

    read_record(source, kind, "listed", read)


def _described(value: object) -> str:
    """What ``value`` is, without its text (no vendor's words in a log line)."""
    if isinstance(value, str):
        return f"a text of {len(value)} characters" if value else "empty"
    if value is None:
        return "missing"
    if isinstance(value, int) and not isinstance(value, bool):
        return "a number out of range" if value.bit_length() > MAX_ID_BITS else "a number of another form"
    return "an object" if isinstance(value, Mapping) else "neither text nor a number"
