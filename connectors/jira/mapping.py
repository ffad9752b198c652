"""Jira / JSM JSON <-> the hub's models. Pure: every Jira field name lives here, nothing does I/O.

Rich text arrives as wiki markup (webhooks, REST v2: a string) or ADF (REST v3: a ``doc`` object); both
become plain text. Writes use REST v2, so outgoing text is wiki markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping
from urllib.parse import unquote

from connectors.jira.wiki import wiki_plain
from connectors.records import readable, record_id
from connectors.text import adf_to_text, wiki_to_text, with_sources
from core.models import UNKNOWN_AUTHOR, Message, Person, Priority, Source, Status, Ticket, TicketRef, Visibility

ANSWERED_LABEL = "hub_answered"
ESCALATED_LABEL = "hub_escalated"
CREATED_LABEL = "hub_created"
# The default issue type of tickets the hub opens in JIRA_PROJECT_KEY (JIRA_ISSUE_TYPE): every Jira template has
# "Task"; a JSM project sets its own, or a request type (JIRA_SERVICE_DESK_ID + JIRA_REQUEST_TYPE_ID).
ISSUE_TYPE = "Task"
ISSUE_FIELDS = "summary,description,reporter,creator,status,priority,labels,comment,created,updated,attachment"
# The job's cheap read of an issue a comment webhook names (JiraConnector.resolve): its reporter, and its key.
REPORTER_FIELDS = "reporter,creator"
# TicketEvent.data of a comment whose author's role waits for the issue's reporter: what the comment's
# visibility is if its author is an agent (a Visibility value).
IF_AGENT = "visibility_if_agent"
# NOTE(jira): a user's self link names them: .../user?accountId=... (Cloud), .../user?username=... (Server/DC).
_SELF_USER = re.compile(r"[?&](?:accountId|username|key)=([^&#]+)")
# NOTE(jira): wiki markup refers to an issue's attachment as [^name] (a link) or !name! / !name|thumbnail! (an image).
# https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa?section=all
_ATTACHMENT_REF = re.compile(r"\[\^([^\]\n]+)\]|!([^!|\n]+)(?:\|[^!\n]*)?!")
INTERNAL_PROPERTY = "sd.public.comment"
# NOTE(jira): a description holds at most 32,767 characters; a longer one is a 400 (interceptor/act.py bounds
# the transcript for it). https://jira.atlassian.com/browse/JRACLOUD-59124
DESCRIPTION_CHARS = 32_767
DESCRIPTION_CUT = " [cut: the whole conversation is in the original thread]"

CATEGORIES = {"new": Status.NEW, "indeterminate": Status.OPEN, "done": Status.SOLVED}
STATUS_NAMES = {"waiting for customer": Status.PENDING, "pending": Status.PENDING, "closed": Status.CLOSED,
                "resolved": Status.SOLVED, "done": Status.SOLVED, "on hold": Status.ON_HOLD}
PRIORITIES = {"highest": Priority.URGENT, "blocker": Priority.URGENT, "critical": Priority.URGENT, "high": Priority.HIGH,
              "medium": Priority.NORMAL, "low": Priority.LOW, "lowest": Priority.LOW, "minor": Priority.LOW,
              "trivial": Priority.LOW, "major": Priority.HIGH}


@dataclass(frozen=True)
class Self:
    """Who the hub is in Jira (from ``GET /myself``): its account id (Cloud) or name (Server), and email."""

    user_id: str | None = None
    email: str | None = None

    def owns(self, user: Mapping[str, Any] | None) -> bool:
        """Whether ``user`` (a Jira user object) is the hub's API user."""
        if not user:
            return False
        if self.user_id and user_id(user) == self.user_id:
            return True
        return bool(self.email and str(user.get("emailAddress") or "").lower() == self.email.lower())


def parse_time(value: Any) -> datetime | None:
    """Parse a Jira timestamp (``2026-04-25T18:35:13.605+0530``, ISO-8601, or epoch milliseconds)."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value / 1000.0, timezone.utc)
        except (ValueError, OverflowError, OSError):  # beyond any calendar
            return None
    text = str(value).strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt).astimezone(timezone.utc)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def rich_text(value: Any) -> str:
    """Plain text of a description or comment body: ADF (dict) or wiki markup (string)."""
    if isinstance(value, (dict, list)):
        return adf_to_text(value)
    return wiki_to_text(value if isinstance(value, str) else None)


def user_id(user: Mapping[str, Any]) -> str:
    """A user's id: ``accountId`` (Cloud), else ``name``/``key`` (Server/DC), else the one its ``self`` link
    names (``/user?username=ii_ivanov`` is the ``name``: a Server/DC webhook has been captured with users that
    carry no ``name``/``key``, shared/fixtures/payloads/jira_server_webhook_comment_created.json)."""
    found = user.get("accountId") or user.get("name") or user.get("key")
    named = None if found else _SELF_USER.search(str(user.get("self") or ""))
    return str(found or (unquote(named.group(1)) if named else UNKNOWN_AUTHOR))


def status_of(status: Mapping[str, Any] | None) -> Status:
    """Map a Jira status by name where it is telling, else by its category (new/indeterminate/done)."""
    if not status:
        return Status.NEW
    named = STATUS_NAMES.get(str(status.get("name", "")).lower())
    if named is not None:
        return named
    return CATEGORIES.get(str((status.get("statusCategory") or {}).get("key", "")), Status.OPEN)


def priority_of(priority: Mapping[str, Any] | None) -> Priority | None:
    """Map a Jira priority by name (the scheme is configurable: unknown names give ``None``)."""
    return PRIORITIES.get(str(priority.get("name", "")).lower()) if priority else None


def person(user: Mapping[str, Any] | None, reporter: str | None, me: Self) -> Person:
    """Build a :class:`Person`. NOTE(jira): Jira has no "agent" flag on a user; a JSM ``customer`` account
    or the issue's reporter is the requester's side, anyone else counts as an agent. With the reporter
    unknown (a Cloud ``comment_created`` carries a partial issue) only the hub itself is not the requester's."""
    user = user or {}
    uid = user_id(user)
    return Person(
        external_id=uid,
        name=str(user.get("displayName") or user.get("name") or ""),
        email=user.get("emailAddress") or None,
        is_agent=bool(user) and reporter is not None and not _requester_side(user, uid, reporter),
        is_self=me.owns(user),
    )


def _requester_side(user: Mapping[str, Any], uid: str, reporter: str | None) -> bool:
    return user.get("accountType") == "customer" or (reporter is not None and uid == reporter)


def awaits_reporter(comment: Mapping[str, Any], author: Person) -> bool:
    """Whether only the issue's reporter can tell if the comment's author is an agent or the requester's side:
    a comment webhook names no reporter (Cloud's partial ``issue`` leaves it out, Server/DC sends no ``issue``),
    and the author is a user who is neither the hub nor a JSM ``customer`` account."""
    user = comment.get("author")
    return isinstance(user, Mapping) and bool(user) and not author.is_self and not _requester_side(user, author.external_id, None)


def judged(msg: Message, reporter: str | None, if_agent: Visibility, me: Self) -> Message:
    """A webhook's comment (:func:`awaits_reporter`) judged once the issue's ``reporter`` is read: the
    reporter's own words stay the requester's side's (as parsed); anyone else's are an agent's, whose
    visibility is ``if_agent`` (:func:`visibility_of` for an agent author, taken when the webhook was parsed).
    An issue with no reporter leaves the message as parsed, as :func:`person` does. The hub's own comment is
    marked ``is_self`` (the webhook handler may not know the hub's user id yet: a Server/DC webhook names users
    without their email)."""
    if me.user_id and msg.author.external_id == me.user_id:
        return replace(msg, author=replace(msg.author, is_self=True))
    if reporter is None or _requester_side({}, msg.author.external_id, reporter):
        return msg
    return replace(msg, author=replace(msg.author, is_agent=True), visibility=if_agent)


def is_internal(comment: Mapping[str, Any]) -> bool:
    """Whether a comment is marked for agents only: a JSM internal comment (``jsdPublic: false``, or the
    property ``sd.public.comment`` ``{"internal": true}`` as written by ``add_comment(is_internal=True)``), or
    one restricted to a role or group (``visibility``)."""
    return comment.get("jsdPublic") is False or bool(comment.get("visibility")) or _internal_property(comment)


def is_public(comment: Mapping[str, Any], looked_up: Visibility | None = None) -> bool:
    """Whether a comment is provably visible to the customer: nothing marks it internal (no ``visibility``,
    no ``sd.public.comment`` property other than ``{"internal": false}``) and either ``jsdPublic`` is
    ``true`` or, when the comment has no ``jsdPublic`` key at all, its ``sd.public.comment`` property was
    looked up and says public (``looked_up``, :func:`property_visibility`). Anything else (``jsdPublic``
    ``null`` or not a boolean, a malformed ``visibility`` or property, a look-up not made or failed) is
    ambiguous, and ambiguous counts as internal (issue 12): it is never mirrored to the requester.

    NOTE(jira): Cloud sends ``jsdPublic`` on every comment, webhook and REST (platform-apis.md 3.6); Server/DC
    does not, so there the connector looks the property up (:func:`needs_lookup`).
    """
    if comment.get("visibility") is not None or _internal_property(comment, strict=True):
        return False
    if "jsdPublic" in comment:
        return comment["jsdPublic"] is True
    return looked_up is Visibility.PUBLIC


def needs_lookup(comment: Mapping[str, Any], author: Person) -> bool:
    """Whether only the comment's ``sd.public.comment`` property can tell who sees it: an agent's comment
    (not the hub's, not the requester's side's) with no ``jsdPublic`` key at all (Jira Server/DC), no
    ``visibility`` restriction, no property already marking it internal, and a numeric id (a URL is never
    built from anything else). A ``jsdPublic`` that is present but not a boolean is not looked up: it stays
    ambiguous (internal), as does a comment without such an id."""
    return (author.is_agent and not author.is_self and "jsdPublic" not in comment and str(comment.get("id") or "").isdigit()
            and comment.get("visibility") is None and not _internal_property(comment, strict=True))


def lookups_needed(issue: Mapping[str, Any], me: Self) -> list[str]:
    """The ids of the issue's comments (``fields.comment``) that :func:`needs_lookup`."""
    fields = issue.get("fields") or {}
    reporter = _reporter_id(fields)
    comments = (fields.get("comment") or {}).get("comments") or []
    return [str(c["id"]) for c in comments if isinstance(c, Mapping) and needs_lookup(c, person(c.get("author"), reporter, me))]


def property_visibility(prop: Mapping[str, Any] | None) -> Visibility:
    """Who sees a comment, from ``GET /comment/{id}/properties/sd.public.comment``: ``None`` (a 404: the
    comment has no such property, nothing marks it internal) or ``{"internal": false}`` is public; ``{"internal":
    true}`` or any other answer is internal."""
    if prop is None:
        return Visibility.PUBLIC
    value = prop.get("value")
    plainly_public = prop.get("key") == INTERNAL_PROPERTY and isinstance(value, Mapping) and value.get("internal") is False
    return Visibility.PUBLIC if plainly_public else Visibility.INTERNAL


def _internal_property(comment: Mapping[str, Any], *, strict: bool = False) -> bool:
    """Whether the comment carries ``sd.public.comment`` marking it internal (``strict``: or a value that
    does not say ``internal: false`` plainly)."""
    props = comment.get("properties")
    if not isinstance(props, list):
        return strict and props is not None
    for prop in props:
        if not isinstance(prop, Mapping) or prop.get("key") != INTERNAL_PROPERTY:
            continue
        value = prop.get("value")
        internal = value.get("internal") if isinstance(value, Mapping) else None
        if internal is True or (strict and internal is not False):
            return True
    return False


def message(comment: Mapping[str, Any], reporter: str | None, me: Self, files: Mapping[str, str] | None = None,
            looked_up: Visibility | None = None) -> Message:
    """Build a :class:`Message` from a comment (webhook or REST, v2 or v3). ``files`` maps the issue's
    attachment file names to their links; the ones the comment refers to become its ``attachments``.
    ``looked_up`` is what the comment's ``sd.public.comment`` property said (:func:`property_visibility`),
    or ``Visibility.UNKNOWN`` when the look-up failed; the message's visibility is :func:`visibility_of`'s.

    NOTE(jira): a comment's ``author`` is optional: a deleted or anonymous user's comment has none.
    https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-comments/ Who wrote it is
    unknown, so it is neither the requester's word (the hub would answer it) nor an agent's public reply (it
    would be mirrored to the requester): an unknown author's comment is an internal note, as anything
    ambiguous is. An ``app`` account's comment (Automation for Jira, an integration) is ``automated``.
    """
    raw = comment.get("author")
    if not (isinstance(raw, Mapping) and raw):
        author, visibility = Person(UNKNOWN_AUTHOR, is_agent=True), Visibility.INTERNAL
    else:
        author = person(raw, reporter, me)
        visibility = visibility_of(comment, author, looked_up)
    return Message(
        external_id=str(comment.get("id")),
        author=author,
        text=rich_text(comment.get("body")),
        visibility=visibility,
        created_at=parse_time(comment.get("created")) or datetime.now(timezone.utc),
        attachments=referenced_files(comment.get("body"), files or {}),
        automated=isinstance(raw, Mapping) and raw.get("accountType") == "app",
    )


def visibility_of(comment: Mapping[str, Any], author: Person, looked_up: Visibility | None = None) -> Visibility:
    """Who sees a comment by ``author``: an agent's comment is public only when :func:`is_public` proves it,
    and ``Visibility.UNKNOWN`` while only a look-up not made (or failed) could; the requester's side's own
    comment is public unless marked internal (their words cannot leak to them, and Server/DC has no
    ``jsdPublic``)."""
    if is_public(comment, looked_up) or (not author.is_agent and not author.is_self and not is_internal(comment)):
        return Visibility.PUBLIC
    if needs_lookup(comment, author) and looked_up in (None, Visibility.UNKNOWN):
        return Visibility.UNKNOWN
    return Visibility.INTERNAL


def attachment_links(attachments: Any) -> dict[str, str]:
    """The issue's ``fields.attachment[]`` as ``{filename: content link}`` (links, never the files)."""
    if not isinstance(attachments, list):
        return {}
    return {str(a["filename"]): str(a["content"]) for a in attachments if isinstance(a, Mapping) and a.get("filename") and a.get("content")}


def referenced_files(body: Any, files: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The attachments a wiki-markup comment refers to, as ``(file name, link)``, in order, once each."""
    if not isinstance(body, str) or not files:
        return ()
    names = [(m.group(1) or m.group(2) or "").strip() for m in _ATTACHMENT_REF.finditer(body)]
    return tuple((n, files[n]) for n in dict.fromkeys(names) if n in files)


def reporter_id(issue: Mapping[str, Any]) -> str | None:
    """The id of the issue's reporter (its creator when it has none), or ``None``."""
    return _reporter_id(issue.get("fields") or {})


def _reporter_id(fields: Mapping[str, Any]) -> str | None:
    reporter_user = fields.get("reporter") or fields.get("creator")
    return user_id(reporter_user) if reporter_user else None


def ticket(issue: Mapping[str, Any], me: Self, base_url: str, looked_up: Mapping[str, Visibility] | None = None) -> Ticket:
    """Build a :class:`Ticket` from an issue (``GET /issue/{key}`` or a search hit, fields per
    :data:`ISSUE_FIELDS`). ``looked_up`` maps comment ids to what their ``sd.public.comment`` property said
    (:func:`lookups_needed` names the comments to look up)."""
    fields = issue.get("fields") or {}
    reporter_user = fields.get("reporter") or fields.get("creator")
    reporter = _reporter_id(fields)
    comments = (fields.get("comment") or {}).get("comments") or []
    now = datetime.now(timezone.utc)
    return Ticket(
        ref=TicketRef(Source.JIRA, str(issue["key"])), subject=str(fields.get("summary") or ""), text=rich_text(fields.get("description")),
        requester=person(reporter_user, reporter, me),
        status=status_of(fields.get("status")),
        priority=priority_of(fields.get("priority")),
        tags=tuple(fields.get("labels") or ()),
        messages=_messages(comments, reporter, me, attachment_links(fields.get("attachment")), looked_up or {}),
        url=browse_url(base_url, str(issue["key"])),
        created_at=parse_time(fields.get("created")) or now,
        updated_at=parse_time(fields.get("updated")) or now,
        raw=dict(issue), request_in_messages=False,  # the description is not one of the comments
    )


def _messages(comments: Iterable[Any], reporter: str | None, me: Self, files: Mapping[str, str],
              looked_up: Mapping[str, Visibility]) -> tuple[Message, ...]:
    """The issue's comments as messages; one not of the documented shape (no ``id``: two such would be one
    message; not an object) is passed over, logged and counted (:func:`connectors.records.readable`)."""
    def one(c: Mapping[str, Any]) -> Message:
        if c.get("id") is None:
            raise KeyError("id")
        return message(c, reporter, me, files, looked_up.get(str(c["id"])))

    def read(c: Any) -> Message | None:
        return readable(Source.JIRA, "comment", record_id(c, "id"), lambda: one(c))

    return tuple(m for m in map(read, comments) if m is not None)


def browse_url(base_url: str, key: str) -> str:
    """The agent-facing link: ``{JIRA_URL}/browse/{key}``."""
    return f"{base_url.rstrip('/')}/browse/{key}"


def answer_body(text: str, citations: Iterable[Mapping[str, Any]] = ()) -> str:
    """The public comment for a reply: the text as written (:func:`connectors.jira.wiki.wiki_plain`) and the
    cited articles it does not link already."""
    return with_sources(wiki_plain(text), citations, lambda title, url: f"* [{_label(title)}|{url}]")


def _label(title: str) -> str:
    """A link label without the characters that would end the wiki link ``[label|url]`` early."""
    return title.replace("[", "(").replace("]", ")").replace("|", "-")


def label_update(label: str, *more: str) -> dict[str, Any]:
    """The ``PUT /issue/{key}`` body that adds ``label`` (and ``more``; idempotent: adding twice is a no-op)."""
    return {"update": {"labels": [{"add": one} for one in (label, *more)]}}


def _described(text: str, requester: Person) -> str:
    """The description of an issue or JSM request the hub opens: who asked, then their words, as written
    (:func:`connectors.jira.wiki.wiki_plain`: the requester's text and name are theirs, never wiki markup).
    Escaping lengthens the text (at most about twice: ``[`` is ``\\[``), so a description over
    :data:`DESCRIPTION_CHARS` once escaped is cut, and says so."""
    who = requester.name or requester.external_id
    plain = f"Requested by {who}" + (f" ({requester.email})" if requester.email else "") + f"\n\n{text}"
    body, keep = wiki_plain(plain), len(plain)
    while len(body) > DESCRIPTION_CHARS:
        keep = max(0, min(keep - 1, keep * DESCRIPTION_CHARS // len(body)) - len(DESCRIPTION_CUT))
        body = wiki_plain(plain[:keep] + DESCRIPTION_CUT)
    return body


def create_fields(project_key: str, subject: str, text: str, requester: Person, tags: Iterable[str],
                  issue_type: str = ISSUE_TYPE) -> dict[str, Any]:
    """The ``fields`` of an issue the hub opens. NOTE(jira): the reporter is the API user; the requester is
    named in the description (mapping an email to an account needs user-search permissions). The description
    is wiki markup (REST v2), so it shows the requester's text as written (:func:`_described`)."""
    return {
        "project": {"key": project_key},
        "issuetype": {"name": issue_type},
        "summary": subject[:250],
        "description": _described(text, requester),
        "labels": sorted({*(t.replace(' ', '_') for t in tags), CREATED_LABEL}),
    }


def customer_request(service_desk_id: str, request_type_id: int, subject: str, text: str, requester: Person) -> dict[str, Any]:
    """The body of ``POST /rest/servicedeskapi/request`` for a JSM request the hub opens (it is raised by the
    API user, who must be a JSM agent; the requester is named in the description, as for issues).
    NOTE(jira): https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-post
    Its rich-text fields take ADF only with ``isAdfRequest: true`` (RequestCreateDTO, mirrored at
    https://pub.dev/documentation/atlassian_apis/latest/service_management/RequestCreateDTO-class.html);
    without it a ``description`` string is wiki markup, as on ``POST /rest/api/2/issue``, and is escaped alike."""
    return {
        "serviceDeskId": service_desk_id,
        "requestTypeId": request_type_id,
        "requestFieldValues": {"summary": subject[:250], "description": _described(text, requester)},
    }
