"""The asker's replies in a simulated thread (``hub simulate slack --reply`` and the replies field of
``/admin/simulate``): what each one is, how the hub read it and what it recorded, in the words both show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from core.db import OutcomeRow
from interceptor.guard import classify_followup
from surfaces.simulate.recorder import Call

# The limits of both surfaces: the page refuses more with a 400, the command with a usage error (exit 2).
MAX_REPLIES = 10
MAX_REPLIES_CHARS = 4000  # the whole replies field (the command's replies one per line), as the message's own limit

READINGS = {  # classify_followup's verdicts, as an admin reads them
    "solved": "says the answer worked",
    "not_solved": "says the answer did not help",
    "human": "asks for a person",
    "new_ask": "asks something new",
    None: "neither confirms nor rejects the answer, and asks nothing",
}


@dataclass(frozen=True)
class Reply:
    """A reply the simulated person posted in the request's thread, and what it led to."""

    text: str
    status: int  # the HTTP status ``/slack/events`` answered
    decisions: list[dict[str, Any]]  # the follow-up decisions it led to (as ``Simulation.decision``)
    calls: list[Call]  # the Slack writes it led to
    outcomes: list[dict[str, Any]]  # the outcomes it recorded, oldest first: ``{"kind": ..., "detail": {...}}``
    with_person: bool = False  # the thread was already handed to a person when the reply came

    @property
    def reading(self) -> str:
        """How the hub's follow-up guard reads the reply (:func:`interceptor.guard.classify_followup`)."""
        return READINGS[classify_followup(self.text)]

    @property
    def conclusion(self) -> str:
        """What the hub did with the reply, from what it recorded: "handed the thread to a person", ..."""
        did = conclusion(self.outcomes)
        return f"{did}: a person already has the thread" if did == "nothing to do" and self.with_person else did

    @property
    def summary(self) -> str:
        """The follow-up decision in a line: ``Read as: says the answer worked. Then: recorded the answer as solved.``"""
        return f"Read as: {self.reading}. Then: {self.conclusion}."

    @property
    def recorded(self) -> str:
        """The outcomes it recorded: ``Recorded: solved (via reply)``, or ``Recorded: nothing``."""
        return "Recorded: " + (", ".join(outcome_label(o) for o in self.outcomes) or "nothing")


def conclusion(outcomes: list[dict[str, Any]]) -> str:
    """What the hub did, from the outcomes one reply recorded.

    Args:
        outcomes: ``{"kind": ..., "detail": {...}}`` rows, as :class:`Reply` holds them.

    Returns:
        A clause such as "recorded the answer as solved and handed the thread to a person", or "nothing to do".
    """
    kinds = [o["kind"] for o in outcomes]
    did = []
    if "solved" in kinds:
        did.append("recorded the answer as solved")
    if "not_solved" in kinds:
        did.append("recorded that the answer did not help")
    if "escalated" in kinds:
        did.append("handed the thread to a person")
    return " and ".join(did) or "nothing to do"


def outcome_label(outcome: dict[str, Any]) -> str:
    """``solved (via reply)``, ``escalated (reason new_ask)``: an outcome's kind and its details."""
    detail = ", ".join(f"{key} {value}" for key, value in sorted((outcome.get("detail") or {}).items()) if value)
    return str(outcome["kind"]).replace("_", " ") + (f" ({detail})" if detail else "")


def outcomes_of(db: Any, ref: str, after: int = 0) -> list[dict[str, Any]]:
    """The outcomes recorded on thread ``ref`` with an id above ``after``, oldest first, with their ``id``."""
    with db.session() as session:
        rows = session.scalars(select(OutcomeRow).where(OutcomeRow.ticket_ref == ref, OutcomeRow.id > after)
                               .order_by(OutcomeRow.id))
        return [{"id": row.id, "kind": row.kind, "detail": dict(row.detail or {})} for row in rows]


def replies_field(field: str) -> tuple[list[str], str | None]:
    """Read the page's replies field: one reply a non-empty line, in order.

    Args:
        field: the textarea's value (line breaks as a browser sends them, ``\\r\\n``).

    Returns:
        The replies, and ``None``; or the error naming the limit it passes (over ``MAX_REPLIES_CHARS``
        characters, more than ``MAX_REPLIES`` replies).
    """
    field = field.replace("\r\n", "\n").replace("\r", "\n")
    replies = [line.strip() for line in field.split("\n") if line.strip()]
    if len(field) > MAX_REPLIES_CHARS:
        return replies, f"The replies must be at most {MAX_REPLIES_CHARS} characters in all ({len(field)} typed)."
    if len(replies) > MAX_REPLIES:
        return replies, f"Type at most {MAX_REPLIES} replies, one per line ({len(replies)} typed)."
    return replies, None
