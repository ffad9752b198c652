"""Importers: Markdown with front matter, HTML, and bench packs (``pack.json``) into the KB store.

Markdown front matter (YAML between ``---`` lines) may set ``title``, ``url``, ``tags``, ``locale``,
``section``, ``id`` and ``questions``; without a title the first ``# heading`` (else the file name) is
used. HTML takes ``<title>`` (else the first ``<h1>``) and the visible text of ``<body>``. Articles are
identified by their path relative to the imported folder, so re-importing the folder updates in place.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import yaml

from connectors.base import KnowledgeArticle
from core import kb
from core.db import Database
from core.errors import HubError
from interceptor.passages import split_passages

log = logging.getLogger("interceptor.kb.import")
PACK_FORMAT = "helpdesk-bench/v1"
SUFFIXES = (".md", ".markdown", ".html", ".htm", ".json")


class KBImportError(HubError):
    """A file cannot be imported (the message names it)."""


@dataclass(frozen=True)
class ImportReport:
    """What an import did."""

    seen: int
    changed: int
    unchanged: int


def _listify(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


_MARKDOWN_INLINE = (
    (re.compile(r"^```.*$", re.M), ""),  # code fences
    (re.compile(r"^#{1,6}\s+", re.M), ""),  # headings
    (re.compile(r"^\s{0,3}>\s?", re.M), ""),  # block quotes
    (re.compile(r"^(\s*)[*+]\s+", re.M), r"\1- "),  # bullets
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: their alt text
    (re.compile(r"\[([^\]]+)\]\((\S+?)(?:\s+\"[^\"]*\")?\)"), r"\1 (\2)"),  # links: text (url)
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])"), r"\2"),  # italics
    (re.compile(r"`([^`]+)`"), r"\1"),  # inline code
)


def markdown_to_text(markdown: str) -> str:
    """Markdown as the plain text an answer quotes: emphasis, headings and code marks removed, links as
    ``text (url)``; paragraphs, numbered and bulleted lists kept. Every channel renders plain text."""
    text = markdown
    for pattern, replacement in _MARKDOWN_INLINE:
        text = pattern.sub(replacement, text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def parse_markdown(text: str, external_id: str) -> kb.ArticleInput:
    """Parse a Markdown article with optional YAML front matter.

    Raises:
        KBImportError: the front matter is not valid YAML or not a mapping.
    """
    meta: dict[str, Any] = {}
    body = text.replace("\r\n", "\n")
    match = re.match(r"^---\s*\n(.*?)\n---\s*(?:\n|$)", body, re.S)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as e:
            raise KBImportError(f"{external_id}: bad front matter: {e}") from e
        if not isinstance(loaded, dict):
            raise KBImportError(f"{external_id}: front matter must be a mapping")
        meta, body = loaded, body[match.end():]
    title = str(meta.get("title") or "").strip()
    heading = re.match(r"^\s*#\s+(.+?)\s*$", body, re.M)
    if not title and heading:
        title = heading.group(1)
    if heading and heading.group(1).strip() == title and not body[: heading.start()].strip():
        body = body[heading.end():]  # the title heading is the title, not a passage
    title = title or Path(external_id).stem.replace("-", " ").replace("_", " ").capitalize()
    passages = tuple(markdown_to_text(p) for p in split_passages(body.strip()))  # headings still mark sections
    return kb.ArticleInput(
        source="markdown", external_id=str(meta.get("id") or external_id), title=title, body=markdown_to_text(body),
        url=meta.get("url"), tags=_listify(meta.get("tags")), locale=meta.get("locale"),
        section=meta.get("section"), passages=passages, questions=_listify(meta.get("questions")),
    )


class _TextExtractor(HTMLParser):
    _SKIP = {"script", "style", "head", "nav", "footer"}
    _BLOCK = {"p", "div", "li", "br", "tr", "section", "article", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title, self.h1, self.parts, self._stack = "", "", [], []  # type: str, str, list[str], list[str]

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._stack.append(tag)
        if tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        while self._stack and self._stack.pop() != tag:
            pass
        if tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if "title" in self._stack:
            self.title += data
        elif "h1" in self._stack and not self.h1:
            self.h1 = data.strip()
        if not self._SKIP.intersection(self._stack):
            self.parts.append(data)


def parse_html(text: str, external_id: str) -> kb.ArticleInput:
    """Parse an HTML article: ``<title>`` or the first ``<h1>``, and the visible body text."""
    parser = _TextExtractor()
    parser.feed(text)
    body = "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", "".join(parser.parts)) if p.strip())
    title = " ".join(parser.title.split()) or parser.h1 or Path(external_id).stem
    if body.startswith(title):
        body = body[len(title):].strip()
    return kb.ArticleInput(source="html", external_id=external_id, title=title, body=body,
                           passages=split_passages(body))


def pack_articles(pack: dict[str, Any]) -> Iterator[kb.ArticleInput]:
    """Yield the articles of a bench pack (its queries are not read here)."""
    for a in pack.get("articles", []):
        body = str(a.get("body") or "")
        yield kb.ArticleInput(
            source="pack", external_id=str(a["id"]), title=str(a.get("title") or a["id"]), body=body,
            url=a.get("url"), tags=_listify(a.get("tags")), passages=split_passages(body),
            questions=tuple(str(q) for q in a.get("questions") or ()),
        )


def read_pack(path: Path) -> dict[str, Any]:
    """Read and check a ``pack.json``.

    Raises:
        KBImportError: unreadable, or not a ``helpdesk-bench/v1`` pack.
    """
    try:
        pack = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise KBImportError(f"{path}: cannot read pack: {e}") from e
    if not isinstance(pack, dict) or pack.get("format") != PACK_FORMAT:
        raise KBImportError(f"{path}: not a {PACK_FORMAT} pack")
    return pack


def articles_at(path: Path) -> Iterator[kb.ArticleInput]:
    """Yield the articles in a file or (recursively) a folder.

    Raises:
        KBImportError: a file cannot be read or parsed, or ``path`` does not exist.
    """
    if not path.exists():
        raise KBImportError(f"{path}: no such file or folder")
    root = path if path.is_dir() else path.parent
    files = [path]
    if path.is_dir():  # a folder's README describes the folder; it is not an article
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.stem.lower() != "readme")
    for file in files:
        if file.suffix.lower() == ".json":
            if file.name == "pack.json" or not path.is_dir():
                yield from pack_articles(read_pack(file))
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise KBImportError(f"{file}: cannot read: {e}") from e
        rel = file.relative_to(root).as_posix()
        yield parse_html(text, rel) if file.suffix.lower() in (".html", ".htm") else parse_markdown(text, rel)


def import_articles(db: Database, articles: Iterable[kb.ArticleInput], *, batch: int = 200,
                    progress: Callable[[int, int, int], None] | None = None) -> ImportReport:
    """Upsert ``articles`` in batches of ``batch`` per transaction; unchanged ones cost no writes.

    Args:
        db: the hub's database.
        articles: what to store.
        batch: articles per transaction.
        progress: called with ``(seen, changed, total)`` after each batch.

    Returns:
        The counts.
    """
    seen = changed = 0
    pending = list(articles)
    for start in range(0, len(pending), batch):
        with db.session() as s:
            for article in pending[start:start + batch]:
                seen += 1
                changed += kb.upsert_article(s, article)
        if progress is not None:
            progress(seen, changed, len(pending))
    log.info("interceptor.kb.import", extra={"seen": seen, "changed": changed})
    return ImportReport(seen, changed, seen - changed)


def from_knowledge_article(source: str, article: KnowledgeArticle) -> kb.ArticleInput:
    """Translate an article pulled from a knowledge source (HTML bodies are reduced to their text)."""
    body = article.body
    if "<" in body and ">" in body:
        body = parse_html(f"<body>{body}</body>", article.external_id).body
    return kb.ArticleInput(
        source=source, external_id=article.external_id, title=article.title, body=body, url=article.url,
        tags=article.tags, locale=article.locale, section=article.section, updated_at=article.updated_at,
        passages=split_passages(body),
    )
