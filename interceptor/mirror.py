"""Two-way sync between a Slack thread and its ticket of record (issue 12): pure decisions of which message
goes where, as what visibility, under which outbox key.

- An agent's public reply on the ticket of record goes to the originating thread, with the agent's name, a
  link to the ticket, and links to its attachments (never their content). Only a message that is provably
  public, written by an agent and not by the hub is mirrored: the connectors' mappings turn anything
  ambiguous into ``Visibility.INTERNAL`` (issue 12 item 2), or ``Visibility.UNKNOWN`` while a vendor look-up
  that failed could still tell (not mirrored now, judged again on the next read), and the hub's own drafts
  are ``is_self``.
- The requester's later messages in the thread become public comments on the ticket of record, written by
  the hub as "<name> wrote in Slack:"; anyone else's become internal notes. A message edited afterwards is
  carried again as it reads now ("<name> edited their message in Slack:"), the same way; a deleted one is told in an
  internal note quoting the copy carried (:func:`deletion_action`). Files shared with a message go
  as links (never their content), as an agent's attachments do the other way.
- A solved or closed ticket of record is announced in the thread with the feedback buttons; a requester's
  word after that reopens the ticket, or, on a closed Zendesk ticket (which takes no update), goes to a follow-up
  ticket the thread is then kept in step with (``connectors.follow_up.on_closed``); the notes and edits such a
  ticket refuses wait for the follow-up and are written there (they open none).

Every write has its own key (``mirror:``, ``sync:``, ``sync-note:``, ``deleted:``, ``reopen:``, ``status:``), so a
redelivered event or a re-read ticket never enqueues it twice, and retries ask ``already_wrote``.
"""

from __future__ import annotations

from core.models import Message, Status, TicketRef, Visibility
from core.outbox import NewAction
from interceptor.act import attachment_lines
from interceptor.compose import truncate

SOLVED_NOTICE = "Your ticket {url} was marked {status}. Did that solve it?"
IN_SLACK = " in Slack:"  # ends the first line of a thread message carried to the ticket ("Ada wrote in Slack:")
DELETED_NOTE = "{who} deleted their Slack message of {time}{quote}. Its copy on this ticket no longer stands{advice}."
QUOTED_WORDS = 12
# An agent's reply carried to the thread is one Slack message: its blocks (connectors/slack/blocks.notice) hold at
# least 18,000 characters (12 of 3000, each cut at a line break past its half), the name, link and file links included.
MIRRORED_CHARS = 16_000
REPLY_CUT = "[The reply is longer than a Slack message holds: read all of it on the ticket {url}]"
REOPEN_NOTE = "The requester wrote in the Slack thread after the ticket was {status}; handing it back to agents."


def is_mirrorable(message: Message) -> bool:
    """Whether a message on the ticket of record may be shown to the requester in Slack: public, by an
    agent, not by the hub (its answers, notices and drafts are ``is_self``)."""
    return message.visibility is Visibility.PUBLIC and message.author.is_agent and not message.author.is_self and bool(message.text.strip())


def agent_reply_text(message: Message, ticket_url: str) -> str:
    """The thread message for an agent's reply: who, where, what, and the attachments as links. A reply longer than
    :data:`MIRRORED_CHARS` is cut at a sentence or line end, saying the rest is on the ticket."""
    name = message.author.name or "A support agent"
    said = message.text.strip()
    if len(said) > MIRRORED_CHARS:
        said = f"{truncate(said, MIRRORED_CHARS)}\n\n{REPLY_CUT.format(url=ticket_url)}"
    lines = [f"{name} replied on your ticket {ticket_url}:", "", said]
    lines += attachment_lines(message.attachments)
    return "\n".join(lines)


def agent_reply_action(origin: TicketRef, record: TicketRef, ticket_url: str, message: Message) -> NewAction:
    """Post one agent reply in the originating thread (key ``mirror:<record>:<comment id>``).

    Raises:
        ValueError: the message must not be mirrored (:func:`is_mirrorable`).
    """
    if not is_mirrorable(message):
        raise ValueError("only an agent's public message is mirrored")
    return NewAction(
        key=f"mirror:{record}:{message.external_id}",
        connector=origin.source.value,
        action="post_reply",
        payload={"ref": str(origin), "text": agent_reply_text(message, ticket_url), "kind": "notice", "mirror_of": str(record),
                 "tell_if_refused": str(record)},
        ticket_ref=str(origin),
    )


def thread_message_action(
    origin: TicketRef, record: TicketRef, message: Message, *, name: str, from_requester: bool, as_author: str | None = None,
    edited: str | None = None, thread_url: str | None = None,
) -> NewAction:
    """Carry one thread message to the ticket of record: the requester's as a public comment (written as
    them where the help desk allows it, else by the hub as "<name> wrote in Slack:"), anyone else's as an
    internal note (so the agent sees the whole conversation without exposing it).

    Args:
        origin: the Slack thread.
        record: the ticket of record.
        message: the thread message (``external_id`` is its ts).
        name: the author's display name.
        from_requester: whether the thread's requester wrote it.
        as_author: the ticket's requester in the help desk, when it can post as them (``post_as``).
        edited: when the message was edited (the edit's id): it is carried again as it reads now, saying so, under
            a key of that edit.
        thread_url: the thread's link, for a follow-up ticket should the ticket be closed (``connectors.follow_up.on_closed``).
    """
    said = "\n".join([message.text.strip(), *attachment_lines(message.attachments)]).strip()
    text = f"{name or message.author.external_id} {'edited their message' if edited else 'wrote'}{IN_SLACK}\n\n{said}"
    edit = f":edit:{edited}" if edited else ""
    if from_requester and as_author:
        return NewAction(
            key=f"sync:{origin}:{message.external_id}{edit}",
            connector=record.source.value,
            action="post_as",
            payload={"ref": str(record), "text": f"Edited{IN_SLACK}\n\n{said}" if edited else said, "author_id": as_author, "mirror_of": str(origin),
                     "thread_url": thread_url, "edited": edited},
            ticket_ref=str(record),
        )
    if from_requester:
        return NewAction(
            key=f"sync:{origin}:{message.external_id}{edit}",
            connector=record.source.value,
            action="post_reply",
            payload={"ref": str(record), "text": text, "kind": "notice", "mirror_of": str(origin), "thread_url": thread_url, "edited": edited},
            ticket_ref=str(record),
        )
    return NewAction(
        key=f"sync-note:{origin}:{message.external_id}{edit}",
        connector=record.source.value,
        action="add_internal_note",
        payload={"ref": str(record), "text": text, "once": True, "mirror_of": str(origin)},
        ticket_ref=str(record),
    )


def reopen_action(origin: TicketRef, record: TicketRef, status: Status, message_id: str, *, by_message: bool = False) -> NewAction:
    """Hand a solved or closed ticket of record back to agents after the requester wrote again (Zendesk:
    status open; Jira: the ``hub_escalated`` label). A closed Zendesk ticket refuses it; then a follow-up ticket is the
    hand-back, opened by the requester's message itself when ``by_message`` (``connectors.follow_up.on_closed``)."""
    return NewAction(
        key=f"reopen:{origin}:{message_id}",
        connector=record.source.value,
        action="add_internal_note",
        payload={"ref": str(record), "text": REOPEN_NOTE.format(status=status.value), "reopen": True, "once": True, "mirror_of": str(origin),
                 "by_message": by_message},
        ticket_ref=str(record),
    )


def status_action(origin: TicketRef, record: TicketRef, ticket_url: str, status: Status, change_id: str) -> NewAction | None:
    """The thread message for a solved or closed ticket of record, with "This solved it / I still need
    help" (``None`` for any other status)."""
    if status not in (Status.SOLVED, Status.CLOSED):
        return None
    return NewAction(
        key=f"status:{record}:{change_id}",
        connector=origin.source.value,
        action="post_reply",
        payload={"ref": str(origin), "text": SOLVED_NOTICE.format(url=ticket_url, status=status.value), "kind": "answer"},
        ticket_ref=str(origin),
    )


def deletion_key(origin: TicketRef, ts: str) -> str:
    """The outbox key of the note that tells a ticket of record its thread's message ``ts`` was deleted."""
    return f"deleted:{origin}:{ts}"


def carried_words(text: str) -> tuple[str, str]:
    """The author's name and the words of a thread message as :func:`thread_message_action` carried it (``""`` for
    the name where the copy gives none: written as the requester)."""
    first, _, rest = text.partition("\n\n")
    if rest and first.endswith(IN_SLACK):
        name = first[: -len(IN_SLACK)]
        for said in (" wrote", " edited their message", "Edited"):
            name = name.removesuffix(said)
        return name, rest
    return "", text


def deletion_action(origin: TicketRef, record: TicketRef, message: Message, *, from_requester: bool, name: str, words: str) -> NewAction:
    """Tell the ticket of record, in an internal note, that a thread message was deleted in Slack (key
    :func:`deletion_key`, at most once): when it was written, and the first words of the copy the hub carried
    (``words``, when it has one), so that no agent answers words the requester withdrew. Never a reopen.

    Args:
        origin: the Slack thread.
        record: the ticket of record.
        message: the deleted message (``external_id`` its ts, ``created_at`` when it was written).
        from_requester: whether the thread's requester wrote it.
        name: its author's name (others' messages).
        words: the copy the hub carried, or ``""``.
    """
    cut = words.split()
    quote = f' ("{" ".join(cut[:QUOTED_WORDS])}{"…" if len(cut) > QUOTED_WORDS else ""}")' if cut else ""
    text = DELETED_NOTE.format(who="The requester" if from_requester else name or "Someone", time=message.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                               quote=quote, advice=": do not answer from it" if from_requester else "")
    return NewAction(
        key=deletion_key(origin, message.external_id),
        connector=record.source.value,
        action="add_internal_note",
        payload={"ref": str(record), "text": text, "once": True, "mirror_of": str(origin)},
        ticket_ref=str(record),
    )
