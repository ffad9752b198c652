"""An independent stand-in for Zendesk Help Center (Guide) articles, API v2, written from Zendesk's documentation
and observed behaviour, not from the hub's code or its other test fakes (the routing and the fault queue are
:class:`tests.vendor_standins.Standin`'s). It keeps its own articles and answers at the transport:

- ``GET /api/v2/help_center/incremental/articles?start_time=`` (agents only): the articles whose metadata changed
  at or after ``start_time``, oldest change first, up to :attr:`HelpCenterStandin.page_size` a page (1,000
  documented); ``next_page`` carries ``start_time`` = this page's ``end_time``, the time of the last change of the
  page's last article, so the articles changed in that second are listed again on the next page; the last page
  has ``next_page`` null; an empty answer is ``{"count": 0, "next_page": null, "end_time": 1, "articles": []}``.
  Archived articles are not listed at all, and no article carries an archived or deleted flag.
  https://developer.zendesk.com/documentation/help_center/help-center-api/understanding-incremental-article-exports/ ;
  observed: https://github.com/dust-tt/dust/issues/8656 , https://github.com/dust-tt/dust/pull/8975
- ``GET /api/v2/help_center[/{locale}]/articles``: every article the agent can view (drafts and segment-restricted
  ones too, archived ones not), cursor pagination (``page[size]`` <= 100, ``page[after]`` -> ``meta.has_more``,
  ``meta.after_cursor``, ``links.next``) or offset (``page``, ``per_page`` <= 100 -> ``next_page``, ``count``,
  ``page_count``); with ``{locale}``, each article in that locale's translation (none: not listed).
  https://developer.zendesk.com/api-reference/help_center/help-center-api/articles/#list-articles ;
  https://developer.zendesk.com/api-reference/introduction/pagination/
- ``GET /api/v2/help_center[/{locale}]/articles/{id}`` (404 once archived), ``GET .../articles/{id}/translations``,
  ``POST /api/v2/help_center[/{locale}]/sections/{id}/articles`` (201 ``{"article"}``), ``DELETE
  /api/v2/help_center/articles/{id}`` (archive: 204).
- Article fields as the JSON format lists them (``draft``, ``locale``, ``source_locale``, ``user_segment_id(s)``,
  ``outdated``, ``position``, ``html_url``, ``body``, ``updated_at``, ``edited_at``...) plus an undocumented one.
  ``updated_at`` moves with any change (a draft, a segment, a section); ``edited_at`` only with the title or body.

Faults: :meth:`Standin.fail` and :meth:`HelpCenterStandin.fail_later` (a 503, a 429 with ``Retry-After``: answered
before anything is read; on the next request, or on page 2 of an export), :meth:`HelpCenterStandin.cut` (the
answer stops part way through its body).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

import requests

from tests.vendor_standins import EXTRA, Standin

API = "/api/v2/help_center"
LOC = "(?:/([a-z]{2}(?:-[a-z]{2})?))?"  # an optional {locale} segment
JSON = "(?:\\.json)?"


@dataclass
class HelpCenterStandin(Standin):
    """Zendesk Help Center articles, API v2."""

    articles: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> the source-locale translation's view
    translations: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)  # id -> locale -> title/body/draft
    archived: set[int] = field(default_factory=set)
    page_size: int = 1000
    default_locale: str = "en-us"
    clock: int = 1_767_225_600  # 2026-01-01T00:00:00Z
    step: int = 1  # seconds each change moves the clock (0: changes in one second)
    next_id: int = 360_000_000_000
    pending: list[list[Any]] = field(default_factory=list)  # [method, path pattern, requests to let by, fault]

    # -- what an admin does in Guide -------------------------------------------------------------------

    def _now(self) -> str:
        self.clock += self.step
        return dt.datetime.fromtimestamp(self.clock, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def publish(self, title: str, body: str, *, locale: str | None = None, section: int = 360_001,
                position: int = 0, labels: tuple[str, ...] = ()) -> int:
        """A published article, visible to everyone, written in ``locale`` (the default locale unless given)."""
        self.next_id += 1
        aid, at, loc = self.next_id, self._now(), locale or self.default_locale
        slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")
        self.articles[aid] = {
            "id": aid, "url": f"{self.base}{API}/{loc}/articles/{aid}.json", "html_url": f"{self.base}/hc/{loc}/articles/{aid}-{slug}",
            "author_id": 360_786_799_676, "comments_disabled": False, "draft": False, "promoted": False, "position": position,
            "vote_sum": 0, "vote_count": 0, "section_id": section, "created_at": at, "updated_at": at, "name": title, "title": title,
            "source_locale": loc, "locale": loc, "outdated": False, "outdated_locales": [], "edited_at": at,
            "user_segment_id": None, "permission_group_id": 7_253_379_449_487, "content_tag_ids": [],
            "label_names": list(labels), "body": body, "user_segment_ids": [], **EXTRA}
        self.translations[aid] = {loc: {"title": title, "body": body, "draft": False, "updated_at": at}}
        return aid

    def edit(self, aid: int, *, title: str | None = None, body: str | None = None) -> None:
        """The source translation's title or body is edited: ``updated_at`` and ``edited_at`` move."""
        article, at = self.articles[aid], self._now()
        if title is not None:
            article["title"] = article["name"] = title
        if body is not None:
            article["body"] = body
        article["updated_at"] = article["edited_at"] = at
        self.translations[aid][article["source_locale"]].update(title=article["title"], body=article["body"], updated_at=at)

    def _meta(self, aid: int, **fields: Any) -> None:
        """A metadata change: ``updated_at`` moves, ``edited_at`` (the title or body) does not."""
        self.articles[aid].update(fields, updated_at=self._now())

    def unpublish(self, aid: int) -> None:
        """The article is made a draft again (Guide's "Unpublish")."""
        self._meta(aid, draft=True)
        self.translations[aid][self.articles[aid]["source_locale"]]["draft"] = True

    def restrict(self, aid: int, segment: int = 360_002) -> None:
        """The article is made visible only to a user segment (signed-in users, agents...)."""
        self._meta(aid, user_segment_id=segment, user_segment_ids=[segment])

    def move(self, aid: int, section: int) -> None:
        self._meta(aid, section_id=section)

    def archive(self, aid: int) -> None:
        """Guide's "Archive" (``DELETE /articles/{id}``): the article leaves every listing."""
        self.archived.add(aid)

    def translate(self, aid: int, locale: str, title: str, body: str) -> None:
        """A translation of the article in ``locale``."""
        self.translations[aid][locale] = {"title": title, "body": body, "draft": False, "updated_at": self._now()}

    def cut(self, method: str, pattern: str, how: str = "chunked", *, after: int = 0) -> None:
        """The next ``method`` request on a path matching ``pattern`` (after ``after`` such requests are answered)
        is answered 200, but its body stops part way: the connection drops inside a chunked body (``chunked``:
        requests raises ``ChunkedEncodingError``), or the JSON simply ends (``truncated``)."""
        self.pending.append([method, pattern, after, how])

    def fail_later(self, method: str, pattern: str, status: int, body: Any, headers: dict[str, str] | None = None,
                   *, after: int = 0) -> None:
        """As :meth:`Standin.fail`, after ``after`` such requests are answered (a 503 on page 2 of an export)."""
        self.pending.append([method, pattern, after, (status, {"Content-Type": "application/json", **(headers or {})},
                                                      json.dumps(body))])

    # -- the API --------------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        return [
            ("GET", f"{API}/incremental/articles{JSON}", self._export),
            ("GET", f"{API}{LOC}/articles{JSON}", self._list),
            ("GET", f"{API}{LOC}/articles/(\\d+){JSON}", self._show),
            ("GET", f"{API}{LOC}/articles/(\\d+)/translations{JSON}", self._translations),
            ("POST", f"{API}{LOC}/sections/(\\d+)/articles{JSON}", self._create),
            ("DELETE", f"{API}{LOC}/articles/(\\d+){JSON}", self._archive),
        ]

    def _answer(self, request: requests.PreparedRequest) -> Any:
        if not str(request.headers.get("Authorization", "")).startswith(("Basic ", "Bearer ")):
            # NOTE: the export is for agents only; the other lists answer anonymous visitors (public content).
            if "/incremental/" in str(request.url):
                return 401, {"Content-Type": "application/json"}, json.dumps({"error": "Couldn't authenticate you"})
        path = urlsplit(str(request.url)).path
        for fault in self.pending:
            if fault[0] == request.method and re.fullmatch(fault[1], path):
                fault[2] -= 1
                if fault[2] >= 0:
                    break  # this one is let by
                self.pending.remove(fault)
                self.met.append((str(request.method), path, None, "failed"))
                if not isinstance(fault[3], str):
                    return fault[3]
                status, headers, text = super()._answer(request)
                if fault[3] == "chunked":
                    raise requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(512 bytes read)")
                return status, headers, text[: len(text) // 2]
        return super()._answer(request)

    def live(self) -> list[dict[str, Any]]:
        return [a for aid, a in self.articles.items() if aid not in self.archived]

    def _ts(self, article: dict[str, Any]) -> int:
        return int(dt.datetime.strptime(article["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp())

    def _export(self, q: dict[str, list[str]], _: Any) -> tuple[int, Any]:
        if "start_time" not in q or not q["start_time"][0].isdigit():
            return 400, {"error": "InvalidValue", "description": "start_time is required"}
        since = int(q["start_time"][0])
        changed = sorted((a for a in self.live() if self._ts(a) >= since), key=lambda a: (self._ts(a), a["id"]))
        page = changed[: self.page_size]
        if not page:
            return 200, {"count": 0, "next_page": None, "end_time": 1, "articles": []}
        end = self._ts(page[-1])
        following = f"{self.base}{API}/incremental/articles.json?start_time={end}" if len(changed) > self.page_size else None
        return 200, {"count": len(page), "next_page": following, "end_time": end, "articles": page}

    def _in(self, article: dict[str, Any], locale: str | None) -> dict[str, Any] | None:
        if locale is None or locale == article["source_locale"]:
            return article
        translation = self.translations[article["id"]].get(locale)
        if translation is None:
            return None
        return {**article, "locale": locale, "title": translation["title"], "name": translation["title"],
                "body": translation["body"], "draft": translation["draft"], "edited_at": translation["updated_at"],
                "url": article["url"].replace(f"/{article['source_locale']}/", f"/{locale}/"),
                "html_url": article["html_url"].replace(f"/hc/{article['source_locale']}/", f"/hc/{locale}/")}

    def _list(self, q: dict[str, list[str]], _: Any, locale: str | None) -> tuple[int, Any]:
        order = q.get("sort_by", ["position"])[0]
        shown = [v for a in self.live() if (v := self._in(a, locale)) is not None]
        shown.sort(key=lambda a: (a.get(order) or 0, a["id"]), reverse=q.get("sort_order", ["asc"])[0] == "desc")
        url = f"{self.base}{API}{'/' + locale if locale else ''}/articles.json"
        if "page[size]" in q:
            size, start = min(int(q["page[size]"][0]), 100), int(q.get("page[after]", ["0"])[0])
            page, more = shown[start:start + size], start + size < len(shown)
            return 200, {"articles": page, "meta": {"has_more": more, "after_cursor": str(start + size) if more else None,
                                                    "before_cursor": str(start) if start else None},
                         "links": {"next": f"{url}?page[size]={size}&page[after]={start + size}" if more else None, "prev": None}}
        size, number = min(int(q.get("per_page", ["30"])[0]), 100), int(q.get("page", ["1"])[0])
        page = shown[(number - 1) * size:number * size]
        more = number * size < len(shown)
        return 200, {"articles": page, "next_page": f"{url}?page={number + 1}&per_page={size}" if more else None,
                     "previous_page": f"{url}?page={number - 1}&per_page={size}" if number > 1 else None,
                     "count": len(shown), "page": number, "per_page": size, "page_count": -(-len(shown) // size),
                     "sort_by": order, "sort_order": q.get("sort_order", ["asc"])[0]}

    def _show(self, q: Any, _: Any, locale: str | None, aid: str) -> tuple[int, Any]:
        article = self.articles.get(int(aid))
        shown = self._in(article, locale) if article is not None and int(aid) not in self.archived else None
        return (200, {"article": shown}) if shown else (404, {"error": "RecordNotFound", "description": "Not found"})

    def _translations(self, q: Any, _: Any, locale: str | None, aid: str) -> tuple[int, Any]:
        if int(aid) not in self.articles or int(aid) in self.archived:
            return 404, {"error": "RecordNotFound", "description": "Not found"}
        return 200, {"translations": [{"id": int(aid) * 10 + n, "source_id": int(aid), "source_type": "Article", "locale": loc,
                                       "title": t["title"], "body": t["body"], "draft": t["draft"], "outdated": False,
                                       "updated_at": t["updated_at"], **EXTRA}
                                      for n, (loc, t) in enumerate(sorted(self.translations[int(aid)].items()))],
                     "next_page": None, "previous_page": None, "count": len(self.translations[int(aid)])}

    def _create(self, q: Any, body: dict[str, Any], locale: str | None, section: str) -> tuple[int, Any]:
        fields = (body or {}).get("article") or {}
        if not fields.get("title") or "permission_group_id" not in fields:
            return 400, {"error": {"title": "Invalid attribute", "message": "title and permission_group_id are required"}}
        aid = self.publish(fields["title"], fields.get("body", ""), locale=fields.get("locale") or locale, section=int(section))
        segment = fields.get("user_segment_id")
        self.articles[aid].update(permission_group_id=fields["permission_group_id"], user_segment_id=segment,
                                  user_segment_ids=[segment] if segment is not None else [], draft=bool(fields.get("draft")))
        return 201, {"article": self.articles[aid]}

    def _archive(self, q: Any, _: Any, locale: str | None, aid: str) -> tuple[int, Any]:
        if int(aid) not in self.articles or int(aid) in self.archived:
            return 404, {"error": "RecordNotFound", "description": "Not found"}
        self.archive(int(aid))
        return 204, None
