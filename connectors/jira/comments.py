"""An issue's comments in full, ``GET /issue/{key}/comment`` page by page.

NOTE(jira): the ``comment`` field of an issue (``GET /issue/{key}``) or of a search hit is itself a page of
comments, oldest first, with ``startAt``/``maxResults``/``total``: it may hold fewer comments than ``total``
(the newest then missing), and a search may answer without it. The hub reads "the newest comment" to tell a
requester's reply from an agent's, so a page that is not the whole list is completed from the comments
endpoint first. https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-comments/#api-rest-api-2-issue-issueidorkey-comment-get
"""

from __future__ import annotations

import logging
from typing import Any, Iterator, Mapping

from jira import JIRA

from connectors.jira import schemas
from connectors.jira.client import call, json_object

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_PAGES = 10


def pages(jira: JIRA, key: str) -> Iterator[list[dict[str, Any]]]:
    """The issue's comments, oldest first, one page at a time (at most :data:`MAX_PAGES` pages).

    Raises:
        NotFound: the issue is gone. Retriable, Fatal: a call failed.
    """
    url = jira._get_url(f"issue/{key}/comment")
    start = 0
    for _ in range(MAX_PAGES):
        page = call("comments", lambda: json_object(jira._session.get(url, params={"startAt": start, "maxResults": PAGE_SIZE})))
        comments = [c for c in page.get("comments") or () if isinstance(c, dict)]
        yield comments
        start += len(comments)
        total = page.get("total")
        if not comments or not isinstance(total, int) or start >= total:
            return
    log.warning("jira.comments.too-many", extra={"issue": key, "read": start})


def partial(issue: Mapping[str, Any]) -> bool:
    """Whether the issue's ``fields.comment`` is not the whole list: absent (or null), or a page holding
    fewer comments than its ``total`` says. A ``comment`` of another shape is left to the mapping."""
    fields = issue.get("fields")
    if not isinstance(fields, Mapping):
        return False
    page = fields.get("comment")
    if page is None:
        return True
    if not isinstance(page, Mapping) or not isinstance(page.get("comments"), list):
        return False
    total, start = page.get("total"), page.get("startAt") or 0
    return isinstance(total, int) and (start != 0 or total > len(page["comments"]))


def complete(jira: JIRA, issue: dict[str, Any]) -> dict[str, Any]:
    """The issue with every comment in ``fields.comment`` (:func:`partial` ones read from the comments
    endpoint; a whole page, or an issue without an issue key, as it came).

    Raises:
        NotFound: the issue is gone. Retriable, Fatal: a call failed.
    """
    key = str(issue.get("key") or "")
    if not partial(issue) or not schemas.is_issue_key(key):
        return issue
    comments = [c for page in pages(jira, key) for c in page]
    whole = {"comments": comments, "startAt": 0, "maxResults": len(comments), "total": len(comments)}
    return {**issue, "fields": {**issue["fields"], "comment": whole}}
