"""The page around an article, for the converter in ``core.html``: the one element that holds a whole page's
article (its content root), so the chrome around it is not read. Pure.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

Root = tuple[str, str]  # ("class", tag) for the element of class ``article-body``, or ("tag", tag)


def matches(root: Root, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """Whether the start tag ``tag`` with ``attrs`` opens an element of the kind ``root`` names."""
    return root[0] == "tag" or "article-body" in (dict(attrs).get("class") or "").split()


class _RootFinder(HTMLParser):
    """Counts the candidates for a page's content root: ``.article-body`` (Help Center themes), ``<article>``,
    ``<main>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[Root, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if "article-body" in (dict(attrs).get("class") or "").split():
            self.found[("class", tag)] = self.found.get(("class", tag), 0) + 1
        if tag in ("article", "main"):
            self.found[("tag", tag)] = self.found.get(("tag", tag), 0) + 1


def content_root(html: str) -> Root | None:
    """The one element holding a whole page's article (so breadcrumbs, author lines, attachments, votes,
    related articles and comments around it are not read), or ``None`` for a fragment or a page without one."""
    if not re.search(r"<(?:html|body)\b", html, re.I):
        return None
    finder = _RootFinder()
    finder.feed(html)
    finder.close()
    candidates = [(kind, tag) for (kind, tag), n in finder.found.items() if n == 1]
    for wanted in (lambda r: r[0] == "class", lambda r: r[1] == "article", lambda r: r[1] == "main"):
        for root in candidates:
            if wanted(root):
                return root
    return None
