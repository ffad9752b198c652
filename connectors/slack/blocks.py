"""Block Kit for the hub's Slack messages: the answer with its sources and feedback buttons, the escalation
notice, the triage post, and the acknowledged answer. Pure.

NOTE(slack): text in ``mrkdwn`` must have ``&``, ``<`` and ``>`` escaped, or ``<!channel>`` in a knowledge-base
passage would ping a whole channel. https://docs.slack.dev/messaging/formatting-message-text#escaping
Those three are all mrkdwn can escape: ``*``, ``_``, ``~``, a backtick or a line's leading ``>`` in the text
still turn bold, italic, struck, code or a quote. So the answer, which quotes the knowledge base, is a
``rich_text`` block instead: a text element is "the text shown to the user", styled only by its own ``style``
object, and a URL in it is a link element. https://docs.slack.dev/reference/block-kit/blocks/rich-text-block ,
https://docs.slack.dev/reference/block-kit/block-elements/text-element ,
https://docs.slack.dev/reference/block-kit/block-elements/link-element
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from connectors.slack.mapping import ACTION_NOT_SOLVED, ACTION_SOLVED, FEEDBACK_BLOCK_ID
from connectors.text import split_urls

# NOTE(slack): a section's text is limited to 3000 characters. https://docs.slack.dev/reference/block-kit/blocks/section-block
SECTION_LIMIT = 3000
SOLVED_LABEL = "This solved it"
NOT_SOLVED_LABEL = "I still need help"
MAX_SECTIONS = 12  # 36,000 characters; a message holds at most 50 blocks

Block = dict[str, Any]


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reserves."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = SECTION_LIMIT) -> str:
    """``text`` within ``limit``, cut at a line break or space and never inside an escape, marked ``…``."""
    return text if len(text) <= limit else split(text, limit - 1)[0].rstrip() + "…"


def link(url: str, title: str) -> str:
    """Return a mrkdwn link; ``|`` and ``>`` in the URL are percent-encoded, the title is escaped."""
    safe_url = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    label = escape(title or url).replace("|", "¦")
    return f"<{safe_url}|{label}>"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def rich_text(text: str) -> Block:
    """Plain ``text`` as a ``rich_text`` block that shows it as written: text elements (no mrkdwn in them, no
    escaping), each http(s) URL a link element."""
    elements = [{"type": "link", "url": part} if i % 2 else {"type": "text", "text": part}
                for i, part in enumerate(split_urls(text)) if part]
    return {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": elements}]}


def _sources(citations: Sequence[Mapping[str, Any]], text: str) -> str:
    """The cited links the answer's text does not hold already (the composer writes one source line per
    passage): an answer cites each article once."""
    links = [link(c["url"], c.get("title") or c["url"]) for c in citations if c.get("url") and str(c["url"]) not in text]
    return "*Sources:* " + " · ".join(links) if links else ""


def answer(text: str, citations: Sequence[Mapping[str, Any]], ref: str) -> tuple[str, list[Block]]:
    """Build the answer message.

    Args:
        text: the answer, plain text: shown as written in ``rich_text`` blocks (:func:`rich_text`; text longer
            than 3000 characters is split over several, at line breaks, so none of it is lost).
        citations: ``[{"title", "url"}]``, rendered as mrkdwn links in a context block when the text does
            not carry them already.
        ref: the ticket reference string, the buttons' value.

    Returns:
        The notification fallback text (escaped mrkdwn: mentions in it would notify) and the blocks.
    """
    blocks = [rich_text(chunk) for chunk in split(text)]
    sources = _sources(citations, text)
    if sources:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(sources)}]})
    blocks.append(
        {
            "type": "actions",
            "block_id": FEEDBACK_BLOCK_ID,
            "elements": [
                _button(ACTION_SOLVED, SOLVED_LABEL, ref, style="primary"),
                _button(ACTION_NOT_SOLVED, NOT_SOLVED_LABEL, ref),
            ],
        }
    )
    return _clip(escape(text)), blocks


def _button(action_id: str, label: str, value: str, style: str | None = None) -> Block:
    button: Block = {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": label}, "value": value}
    if style:
        button["style"] = style
    return button


def notice(text: str) -> tuple[str, list[Block]]:
    """Build a reply with no buttons: the "a person will follow up" notice, an agent's reply carried from the
    ticket of record. The text is shown as written in ``rich_text`` blocks (:func:`rich_text`: an agent's
    ``*_backup_*`` or ``~/a and ~/b`` is no mrkdwn), split over several so that a long reply is not cut at one
    section's 3000 characters; past :data:`MAX_SECTIONS` blocks it is cut, marked ``…`` (the agent's reply is
    bounded before that: :data:`interceptor.mirror.MIRRORED_CHARS`)."""
    chunks = split(text)
    if len(chunks) > MAX_SECTIONS:
        chunks = [*chunks[: MAX_SECTIONS - 1], chunks[MAX_SECTIONS - 1][: SECTION_LIMIT - 1].rstrip() + "…"]
    return _clip(escape(text)), [rich_text(chunk) for chunk in chunks]


def split(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split ``text`` (mrkdwn or plain) into pieces of at most ``limit`` characters, at a line break, else a
    space, in the second half of each piece where there is one, and never inside an escape (``&amp;``)."""
    pieces = []
    while len(text) > limit:
        cut = (text.rfind("\n", limit // 2, limit) + 1) or (text.rfind(" ", limit // 2, limit) + 1) or limit
        entity = text.rfind("&", max(cut - 4, 0), cut)
        if entity > 0 and ";" not in text[entity:cut]:
            cut = entity
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text] if text else pieces


def triage(channel: str, permalink: str, draft: str) -> tuple[str, list[Block]]:
    """Build the post to the triage channel for a thread that needs a person.

    Args:
        channel: the thread's channel id.
        permalink: the thread's link (``chat.getPermalink``).
        draft: the pre-drafted reply (with the transcript) for whoever picks it up, plain text: shown as
            written in ``rich_text`` blocks like an answer (it quotes the knowledge base too); long text is split
            over several.
    """
    head = f"A request in <#{channel}> needs a person: {link(permalink, 'open the thread')}"
    chunks = split(draft)[:MAX_SECTIONS]
    blocks = [_section(head), {"type": "divider"}, *(rich_text(chunk) for chunk in chunks if chunk)]
    return _clip(f"A request in <#{channel}> needs a person: {permalink}"), blocks


def acknowledged(blocks: Sequence[Mapping[str, Any]], feedback: str, user: str | None) -> tuple[list[Block], bool]:
    """Replace the feedback buttons of an answer with a line saying what was chosen.

    Args:
        blocks: the answer's current blocks.
        feedback: ``"solved"`` or ``"not_solved"``.
        user: the Slack user who clicked, if known.

    Returns:
        The new blocks, and whether there were buttons to replace (``False``: already acknowledged).
    """
    kept = [dict(b) for b in blocks if not (b.get("type") == "actions" and b.get("block_id") == FEEDBACK_BLOCK_ID)]
    if len(kept) == len(blocks):
        return kept, False
    if feedback == "solved":
        line = f"Marked as solved by <@{user}>" if user else "Marked as solved"
    else:
        line = "Passed to a person"
    kept.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
    return kept, True
