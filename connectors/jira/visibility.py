"""Who sees a Jira comment that carries no ``jsdPublic`` (Jira Server/DC): its JSM property
``sd.public.comment``, looked up once per comment and remembered (:class:`Verdicts`).

NOTE(jira): comment properties live at ``/rest/api/2/comment/{commentId}/properties/{propertyKey}`` on Cloud
and on Server/DC (Jira's ``CommentPropertyResource``, since 6.2), not under ``/issue/{key}/comment`` (a path
that does not exist would 404 for every comment: every internal note would pass for public). JSM stores an
internal comment as ``sd.public.comment`` ``{"internal": true}`` (what its own comment form posts, also on a
self-hosted JSM); a REST comment without it is public in JSM (``jsdPublic`` "defaults to true when comments are
created in the Jira Cloud Platform"; on a self-hosted JSM a comment posted without the property shows on the
portal); a plain Jira project has no internal comments, only ``visibility`` restrictions (platform-apis.md 3.6).
https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-comment-properties/
https://github.com/pycontribs/jira/issues/313
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from datetime import timedelta
from typing import Callable, Mapping

from jira import JIRA

from connectors.jira.client import call, json_object, status_of
from connectors.jira.mapping import INTERNAL_PROPERTY, property_visibility
from core.errors import Fatal, NotFound, Retriable
from core.models import Visibility
from core.telemetry import count

log = logging.getLogger(__name__)

MAX_VERDICTS = 10_000
"""Comments whose verdict is remembered (about 1 MB); the least recently used are forgotten first."""
INTERNAL_RECHECK = timedelta(minutes=15)
"""How long an internal verdict is trusted before the comment is asked about again (it may be made public)."""


class Verdicts:
    """What the look-ups said, by comment id: at most ``size`` of them, thread-safe.

    A public verdict is kept: the read that made it mirrors the comment, and a comment made internal after it
    was public has been on the customer's portal and in their notification already (and a Slack post cannot
    be taken back). An internal verdict is kept for ``recheck`` only: the property can be rewritten after the
    comment was posted (``PUT /comment/{id}/properties/sd.public.comment``; apps offer agents a "make it
    public" action), and a note made public later should still reach the thread with the issue's next event.
    ``Visibility.UNKNOWN`` (a look-up that failed) is never kept.

    Args:
        size: how many comments to remember.
        recheck: how long an internal verdict holds.
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(self, size: int = MAX_VERDICTS, recheck: timedelta = INTERNAL_RECHECK,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._size, self._recheck, self._clock = size, recheck.total_seconds(), clock
        self._known: OrderedDict[str, tuple[Visibility, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, comment_id: str) -> Visibility | None:
        """The verdict on ``comment_id`` still held, or ``None`` (never asked, forgotten, or due again)."""
        with self._lock:
            found = self._known.get(comment_id)
            if found is None:
                return None
            verdict, at = found
            if verdict is Visibility.INTERNAL and self._clock() - at >= self._recheck:
                del self._known[comment_id]
                return None
            self._known.move_to_end(comment_id)
            return verdict

    def put(self, comment_id: str, verdict: Visibility) -> None:
        """Remember ``verdict`` (``Visibility.UNKNOWN`` is not remembered)."""
        if verdict is Visibility.UNKNOWN:
            return
        with self._lock:
            self._known[comment_id] = (verdict, self._clock())
            self._known.move_to_end(comment_id)
            while len(self._known) > self._size:
                self._known.popitem(last=False)


class CommentVisibility:
    """The look-up of a comment's ``sd.public.comment`` property, its verdicts remembered.

    Args:
        jira: the connector's client (its session and URL builder).
        verdicts: where verdicts are kept.
    """

    def __init__(self, jira: JIRA, verdicts: Verdicts | None = None) -> None:
        self._jira = jira
        self.verdicts = verdicts or Verdicts()

    def of(self, comment_id: str) -> Visibility:
        """Who sees comment ``comment_id``: the verdict held (no request), else Jira's answer
        (:meth:`_ask`), counted as ``jira_comment_visibility`` by outcome. A look-up that fails and may pass
        (5xx, 429, timeout) is logged and gives ``Visibility.UNKNOWN``: nothing is decided, so the next read
        of the issue asks again.

        Raises:
            Fatal: Jira refused the look-up (401, 403, another 4xx, or an answer that is not JSON): it will
                not pass by asking again. The message names the cause, and that nothing was posted.
        """
        known = self.verdicts.get(comment_id)
        if known is not None:
            return known
        try:
            verdict, outcome = self._ask(comment_id)
        except Retriable as e:
            log.warning("jira.comment.visibility-unknown", extra={"comment": comment_id, "error": type(e).__name__})
            count("jira_comment_visibility", outcome="unknown")
            return Visibility.UNKNOWN
        except Fatal as e:
            log.error("jira.comment.visibility-refused", extra={"comment": comment_id, "status": status_of(e)})
            count("jira_comment_visibility", outcome="refused")
            raise Fatal(refusal(comment_id, e)) from e
        self.verdicts.put(comment_id, verdict)
        count("jira_comment_visibility", outcome=outcome)
        return verdict

    def _ask(self, comment_id: str) -> tuple[Visibility, str]:
        """``GET /comment/{id}/properties/sd.public.comment``: :func:`mapping.property_visibility` of the
        property; on a 404, :meth:`_without_property`. Returns the verdict and the outcome to count.

        NOTE(jira): that 404 means "the comment ... does not exist or ... the property with given key is not
        found" (``CommentPropertyResource.getProperty``); only its ``errorMessages`` text tells which (the
        ``jira.properties.service.entity.does.not.exist`` or ``...property.does.not.exist`` message, in the
        API user's language), so the hub does not read it.
        """
        url = self._jira._get_url(f"comment/{comment_id}/properties/{INTERNAL_PROPERTY}")
        try:
            prop = call("comment_visibility", lambda: json_object(self._jira._session.get(url)))
        except NotFound:
            return self._without_property(comment_id)
        verdict = property_visibility(prop)
        return verdict, verdict.value

    def _without_property(self, comment_id: str) -> tuple[Visibility, str]:
        """A comment whose property look-up found nothing: public if the comment is there without the
        property (``GET /comment/{id}/properties``, its property keys), internal if it is gone (deleted
        between the read of the issue and the look-up: whatever it was, it is never posted), unknown if
        the property is listed now (written meanwhile: the next read asks again).

        NOTE(jira): the keys' 404 means only "the comment is not found": Jira checks the comment, and the
        permission to browse it (a 403), before it lists keys (``BasePropertyResource.getPropertiesKeys``);
        https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-comment-properties/#api-rest-api-2-comment-commentid-properties-get
        """
        url = self._jira._get_url(f"comment/{comment_id}/properties")
        try:
            listed = call("comment_property_keys", lambda: json_object(self._jira._session.get(url)))
        except NotFound:
            log.info("jira.comment.gone", extra={"comment": comment_id})
            return Visibility.INTERNAL, "gone"
        keys = {str(k.get("key")) for k in listed.get("keys") or () if isinstance(k, Mapping)}
        verdict = Visibility.UNKNOWN if INTERNAL_PROPERTY in keys else Visibility.PUBLIC
        return verdict, verdict.value


def refusal(comment_id: str, error: BaseException) -> str:
    """What an admin reads on the event that failed because Jira refused a comment's visibility look-up."""
    status = status_of(error)
    where = f"GET /rest/api/2/comment/{comment_id}/properties"
    if status == 401:
        why = "Jira refused the hub's credentials (401): check JIRA_EMAIL and JIRA_API_TOKEN"
    elif status == 403:
        why = ("Jira refused the API user (JIRA_EMAIL) permission to read the comment's properties (403): it needs "
               "Browse projects on the issue's project, and any issue security level on the issue (in JSM: an agent "
               "of the service project)")
    else:
        why = f"Jira's answer will not change by asking again ({error})"
    return (f"cannot tell who may see Jira comment {comment_id} ({where}): {why}. This event posted nothing; once "
            "that is fixed, re-queue it with `hub retry` (or the dashboard).")
