"""The page around an article, for the converter in ``core.html``: the one element that holds a whole page's
article (its content root), so the chrome around it is not read, and which ``<aside>`` is chrome (a sidebar:
related articles, contents, navigation) rather than a callout (a note or a warning, often the answer). Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.html_feed import LinearParser, read

_CHROME_NAMES = re.compile(r"(?:^|[\s_-])(?:sidebar|related|toc|nav|navigation|recent|breadcrumbs?)(?=$|[\s_-])", re.I)
_CHROME_HEADINGS = frozenset(("related articles", "related", "recently viewed articles", "recently viewed",
                              "in this article", "on this page", "table of contents", "contents",
                              "articles in this section"))


@dataclass
class Aside:
    """An open ``<aside>``: where its blocks start, and what tells a sidebar from a callout."""

    start: int  # the index of its first block
    attrs: list[tuple[str, str | None]]
    heading: str = ""  # its first heading
    chars: int = 0  # visible characters outside its headings
    link_chars: int = 0  # of which inside links

    def is_chrome(self) -> bool:
        """A sidebar: named so (``role="navigation"``, a class or id such as ``sidebar``, ``related``, ``toc``),
        headed so ("Related articles", "In this article"), or nothing but links."""
        names = " ".join(value or "" for key, value in self.attrs if key in ("class", "id"))
        return ((dict(self.attrs).get("role") or "").lower() == "navigation" or bool(_CHROME_NAMES.search(names))
                or " ".join(self.heading.lower().rstrip(":").split()) in _CHROME_HEADINGS
                or 0 < self.chars <= self.link_chars)

Root = tuple[str, str]  # ("class", tag) for the element of class ``article-body``, or ("tag", tag)


def matches(root: Root, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """Whether the start tag ``tag`` with ``attrs`` opens an element of the kind ``root`` names."""
    return root[0] == "tag" or "article-body" in (dict(attrs).get("class") or "").split()


class _RootFinder(LinearParser):
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
    read(finder, html)
    candidates = [(kind, tag) for (kind, tag), n in finder.found.items() if n == 1]
    for wanted in (lambda r: r[0] == "class", lambda r: r[1] == "article", lambda r: r[1] == "main"):
        for root in candidates:
            if wanted(root):
                return root
    return None
