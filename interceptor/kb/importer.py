"""Importers: Markdown with front matter, HTML, and bench packs (``pack.json``) into the KB store.

Markdown front matter (YAML between ``---`` lines) may set ``title``, ``url``, ``tags``, ``locale``,
``section``, ``id`` and ``questions``; without a title the first ``# heading`` (else the file name) is
used. HTML takes ``<title>`` (else the first ``<h1>``) and the visible text of ``<body>``. Articles are
identified by their path relative to the imported folder, so re-importing the folder updates in place.

Sections: Markdown headings ``#``..``####`` and HTML ``h1``..``h4`` open sections (heading path = the
chain of enclosing headings, without the article title); a ``helpdesk-bench/v2`` pack's ``sections`` are
kept as they are, with their ids; a ``/v1`` pack's ``body`` is read as HTML, Markdown or plain text, whose
headings are found by their look (``interceptor.kb.body``). Passages are split inside sections (``interceptor.kb.sections``).

Files go through the screen (``interceptor.kb.screen``): what is clearly not a help article (a README or
developer documentation without front matter) is skipped unless forced, a file without a title is imported
with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from connectors.base import KnowledgeArticle
from core import kb
from core.db import Database
from core.errors import HubError
from core.html import TextSection
from core.html import parse_html as parse_html_document
from core.textfile import escape_controls, read_utf8
from core.write_lock import let_others_write, long_enough
from interceptor.kb.body import body_sections, nest
from interceptor.kb.frontmatter import split_front_matter
from interceptor.kb.markdown import (atx_headings, inline_footnotes, inline_references, markdown_sections,
                                     markdown_to_text)
from interceptor.kb.packs import pack_problem
from interceptor.kb.screen import ImportNotice, not_an_article
from interceptor.kb.sections import section_passages

log = logging.getLogger("interceptor.kb.import")
PACK_FORMATS = ("helpdesk-bench/v1", "helpdesk-bench/v2")
SUFFIXES = (".md", ".markdown", ".html", ".htm", ".json")
# Documents a help-center folder often holds beside its articles, which the import does not read: each is named
# in a warning, so that an admin sees they were passed over (images, scripts and the like are not).
OTHER_DOCUMENTS = frozenset({".txt", ".text", ".pdf", ".doc", ".docx", ".rtf", ".odt", ".pages",
                             ".mdx", ".rst", ".adoc", ".asciidoc"})  # and a docs site's other markups
NOT_READ = "not Markdown or HTML: not read (save it as .md or .html to import it)"


class KBImportError(HubError):
    """A file cannot be imported (the message names it)."""


@dataclass(frozen=True)
class ImportReport:
    """What an import did."""

    seen: int
    changed: int
    unchanged: int


def _text(value: Any) -> str | None:
    """A front-matter or pack value as text (YAML reads ``url: 2024`` as a number), ``None`` when empty."""
    text = "" if value is None else str(value).strip()
    return text or None


def _listify(value: Any) -> tuple[str, ...]:
    """Front matter or pack ``tags``/``questions`` as text: a comma-separated string, one number, or a list."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if not isinstance(value, list):
        return (str(value),)
    return tuple(str(v) for v in value if v is not None)


def parse_markdown(text: str, external_id: str) -> kb.ArticleInput:
    """Parse a Markdown article with optional YAML front matter.

    Raises:
        KBImportError: the front matter is never closed, not valid YAML, not a mapping, or has a field of the
            wrong type (:mod:`interceptor.kb.frontmatter`).
    """
    return _markdown(text, external_id)[0]


def _markdown(text: str, external_id: str) -> tuple[kb.ArticleInput, bool, bool]:
    """Return the article, whether the file has front matter, and whether it names its title."""
    meta, body, front_matter = split_front_matter(text.replace("\r\n", "\n"), external_id, KBImportError)
    body = inline_footnotes(inline_references(atx_headings(body)))
    title = str(meta.get("title") or "").strip()
    heading = re.match(r"^\s*#[ \t]+(.*\S)[ \t]*$", body, re.M)  # (a lazy (.+?)\s*$ rescanned runs of spaces)
    if not title and heading:
        title = heading.group(1)
    if heading and heading.group(1).strip() == title and not body[: heading.start()].strip():
        body = body[heading.end():]  # the title heading is the title, not a passage
    titled = bool(title)
    title = title or _title_from_name(external_id)
    base_url = _text(meta.get("url"))  # relative links resolve against it
    passages = section_passages(markdown_sections(body, base_url), title=title)
    article = kb.ArticleInput(
        source="markdown", external_id=escape_controls(str(meta.get("id") or external_id)), title=title,
        body=markdown_to_text(body, base_url),
        url=base_url, tags=_listify(meta.get("tags")), locale=_text(meta.get("locale")),
        section=_text(meta.get("section")), passages=passages, questions=_listify(meta.get("questions")),
    )
    return article, front_matter, titled


def _title_from_name(external_id: str) -> str:
    return Path(external_id).stem.replace("-", " ").replace("_", " ").capitalize()


def parse_html(text: str, external_id: str) -> kb.ArticleInput:
    """Parse an HTML article: ``<title>`` (without a site's name after the page's only ``<h1>``: ``Set up SSO
    – Acme Help Center`` is ``Set up SSO``) or the first ``<h1>``, its URL (the page's ``<link
    rel="canonical">``), the visible body text, and its sections (``h1``..``h4``; a page's only ``h1``, when
    it opens the page, is its title as shown, so it is not repeated in heading paths; one after text or other
    headings heads its section).

    Args:
        text: the HTML page or fragment.
        external_id: the article's id (its path in the imported folder).

    Returns:
        The article (source ``html``).
    """
    return _html(text, external_id)[0]


def _html(text: str, external_id: str) -> tuple[kb.ArticleInput, bool]:
    """Return the article and whether the page names its title."""
    doc = parse_html_document(text)
    title = doc.title or doc.h1 or _title_from_name(external_id)
    first = doc.h1_is_title  # an h1 after text or other headings is a section's
    if first and _SITE_SUFFIX.fullmatch(title[len(doc.h1):]) and title.startswith(doc.h1):
        title = doc.h1  # "Set up SSO – Acme Help Center": the site's name is not the article's
    shown = doc.h1 if first else doc.title  # the page's own title line
    body = doc.text
    if shown and body.startswith(shown):
        body = body[len(shown):].strip()
    article = kb.ArticleInput(source="html", external_id=external_id, title=title, body=body,
                              url=doc.canonical or None, passages=section_passages(doc.sections, title=shown))
    return article, bool(doc.title or doc.h1)


_SITE_SUFFIX = re.compile(r"\s+[|\u2013\u2014\-:\u00b7\u2022]\s+\S.*")


def _pack_sections(article: dict[str, Any]) -> tuple[TextSection, ...]:
    """A pack article's sections: a v2 article's as listed (flat; one without text is a heading over the
    sections that follow it, :func:`interceptor.kb.body.nest`), a v1 article's found in its body
    (:func:`interceptor.kb.body.body_sections`: HTML, Markdown or plain text)."""
    sections = article.get("sections")
    if not isinstance(sections, list):
        return body_sections(str(article.get("body") or ""))
    return nest((str(s.get("heading") or ""), str(s.get("text") or ""), str(s["id"]) if s.get("id") is not None else None)
                for s in sections if isinstance(s, dict))


def pack_articles(pack: dict[str, Any]) -> Iterator[kb.ArticleInput]:
    """Yield the articles of a bench pack (its queries are not read here).

    Args:
        pack: a ``helpdesk-bench/v1`` or ``/v2`` pack as read by :func:`read_pack`.

    Returns:
        The articles (source ``pack``): a v2 pack's sections become the articles' sections, with their ids;
        a v1 body's sections are found in it (HTML, Markdown, or plain text with heading-like lines).
    """
    for a in pack.get("articles", []):
        title = str(a.get("title") or a["id"])
        yield kb.ArticleInput(
            source="pack", external_id=str(a["id"]), title=title, body=str(a.get("body") or ""),
            url=_text(a.get("url")), tags=_listify(a.get("tags")), passages=section_passages(_pack_sections(a), title=title),
            questions=tuple(str(q) for q in a.get("questions") or ()),
        )


def read_pack(path: Path) -> dict[str, Any]:
    """Read and check a ``pack.json``.

    Raises:
        KBImportError: unreadable, not a ``helpdesk-bench/v1`` or ``/v2`` pack, or not of its shape
            (:func:`interceptor.kb.packs.pack_problem`).
    """
    try:
        pack = json.loads(read_utf8(path, KBImportError))
    except json.JSONDecodeError as e:
        raise KBImportError(f"{path}: not JSON ({e}; a truncated file?)") from e
    except RecursionError as e:  # json reads nesting on the stack: 100,000 "[" raised it, a traceback
        raise KBImportError(f"{path}: not a bench pack (JSON nested too deep to read)") from e
    if not isinstance(pack, dict) or pack.get("format") not in PACK_FORMATS:
        found = (f"its format is {pack['format']!r}" if isinstance(pack, dict) and "format" in pack else
                 "it has no `format`" if isinstance(pack, dict) else "it is not a JSON object")
        raise KBImportError(f"{path}: not a {' or '.join(PACK_FORMATS)} pack ({found})")
    problem = pack_problem(pack)
    if problem is not None:
        raise KBImportError(f"{path}: {problem}")
    return pack


def articles_at(path: Path, *, force: bool = False,
                on_notice: Callable[[ImportNotice], None] | None = None) -> Iterator[kb.ArticleInput]:
    """Yield the articles in a file or (recursively) a folder, screening out what is clearly not a help
    article (``interceptor.kb.screen``) unless ``force``.

    Args:
        path: a Markdown, HTML or ``pack.json`` file, or a folder of them.
        force: import files the screen would skip.
        on_notice: called with each skipped file and each warning (no title, no text); logged when ``None``.

    Raises:
        KBImportError: a file cannot be read or parsed, or ``path`` does not exist.
    """
    if not path.exists():
        raise KBImportError(f"{path}: no such file or folder")
    if path.suffix.lower() in OTHER_DOCUMENTS and not path.is_dir():
        raise KBImportError(f"{path}: {NOT_READ}")
    notice = on_notice or (lambda n: log.warning(f"interceptor.kb.import.{n.kind}", extra={"path": n.path, "reason": n.reason}))
    root = path if path.is_dir() else path.parent
    files = [path]
    if path.is_dir():
        files = []
        _listable(path)
        for found in sorted(path.rglob("*")):
            rel = escape_controls(found.relative_to(root).as_posix())  # the id: one line, the same each time
            if found.is_dir() and not found.is_symlink():
                _listable(found)
            elif found.is_symlink() and (found.is_dir() or found.suffix.lower() in SUFFIXES + tuple(OTHER_DOCUMENTS)):
                notice(ImportNotice(rel, "warning", _linked(found, path)))
            elif found.suffix.lower() in OTHER_DOCUMENTS:
                notice(ImportNotice(rel, "warning", NOT_READ))
            elif found.suffix.lower() in SUFFIXES and found.is_file():
                files.append(found)
    origins: dict[tuple[str, str], str] = {}  # (source, external_id) -> the file that gave it, for one import
    for file in files:
        if file.suffix.lower() == ".json":
            if file.name == "pack.json" or not path.is_dir():
                for n, article in enumerate(pack_articles(read_pack(file)), 1):
                    yield _once(article, f"{file.name} (article {n})", origins)
            continue
        text = _read_text(file)
        rel = escape_controls(file.relative_to(root).as_posix())
        if file.suffix.lower() in (".html", ".htm"):
            article, titled = _html(text, rel)
        else:
            article, front_matter, titled = _markdown(text, rel)
            reason = not_an_article(rel, text, front_matter=front_matter)
            if reason and not force:
                notice(ImportNotice(rel, "skipped", f"{reason} (--force imports it)"))
                continue
        problems = [] if titled else [f"no title: imported as \"{article.title}\" (from the file name)"]
        if not article.passages:
            problems.append("no text under the title: imported, but no answer can quote it")
        if problems:
            notice(ImportNotice(rel, "warning", "; ".join(problems)))
        yield _once(article, rel, origins)


def _read_text(file: Path) -> str:
    """Return a Markdown or HTML file's text (:func:`core.textfile.read_utf8`).

    Raises:
        KBImportError: it is not UTF-8, holds NUL bytes (a binary file under a text file's name), or cannot be read.
    """
    text = read_utf8(file, KBImportError)
    if "\x00" in text:
        raise KBImportError(f"{escape_controls(str(file))}: holds NUL bytes, so it is not text (a binary file named {file.suffix}?)")
    return text


def _listable(folder: Path) -> None:
    """Check that a folder's files can be listed: ``Path.rglob`` passes over one it may not read, whose articles
    would be left out of the import without a word.

    Raises:
        KBImportError: naming the folder.
    """
    try:
        with os.scandir(folder):
            pass
    except OSError as e:
        raise KBImportError(f"{escape_controls(str(folder))}: cannot read the folder: {e.strerror or e}") from e


def _linked(link: Path, folder: Path) -> str:
    """Why a symbolic link in an imported folder is not read: what an article holds is quoted to anyone who asks,
    so a link cannot bring in a file from outside the folder (a docs repository with a link to a secrets file);
    one to a file inside it would import that file twice."""
    target, kind = link.resolve(), "folder" if link.is_dir() else "file"
    if target.is_relative_to(folder.resolve()) and target.exists():
        return f"a link to {escape_controls(target.relative_to(folder.resolve()).as_posix())}, which is imported under its own name"
    return (f"a link to a {kind} outside the folder: not read (an article is quoted to anyone who asks; copy the "
            f"{kind} in to import it)")


def _once(article: kb.ArticleInput, origin: str, origins: dict[tuple[str, str], str]) -> kb.ArticleInput:
    """``article``, unless another one of this import has its id: the later would silently replace the
    earlier (two files with one front-matter ``id``, a pack listing an id twice).

    Raises:
        KBImportError: naming both and the id.
    """
    key = (article.source, article.external_id)
    if key in origins:
        raise KBImportError(f"{origins[key]} and {origin} have the same id {article.external_id!r}: each article needs "
                            "its own id (a Markdown file's front matter `id`, a pack article's `id`)")
    origins[key] = origin
    return article


def import_articles(db: Database, articles: Iterable[kb.ArticleInput], *, batch: int = 200,
                    progress: Callable[[int, int, int], None] | None = None) -> ImportReport:
    """Upsert ``articles`` in transactions of at most ``batch`` articles and at most
    :data:`core.write_lock.WRITE_SECONDS` each, letting other writers in between
    (:func:`core.write_lock.let_others_write`: a webhook's insert waits for one short transaction, never for the
    import); unchanged ones cost no writes.

    Args:
        db: the hub's database.
        articles: what to store (read, and so parsed, before the first transaction).
        batch: the most articles per transaction.
        progress: called with ``(seen, changed, total)`` after each transaction.

    Returns:
        The counts.
    """
    seen = changed = 0
    pending = list(articles)
    while seen < len(pending):
        if seen:
            let_others_write(db)
        started = time.monotonic()
        with db.session() as s:
            for article in pending[seen:seen + batch]:
                seen += 1
                stored = kb.upsert_article(s, article)
                changed += stored
                log.debug("interceptor.kb.import.article", extra={"source": article.source, "id": article.external_id, "changed": bool(stored)})
                if long_enough(started):
                    break
        if progress is not None:
            progress(seen, changed, len(pending))
    log.info("interceptor.kb.import", extra={"seen": seen, "changed": changed})
    return ImportReport(seen, changed, seen - changed)


def from_knowledge_article(source: str, article: KnowledgeArticle) -> kb.ArticleInput:
    """Translate an article pulled from a knowledge source.

    Args:
        source: the stored source name (``zendesk_hc``).
        article: the article as the connector delivered it.

    Returns:
        The article to store: its sections (as the connector found them) split into passages; a source that
        gives no sections gives one untitled section, its body.
    """
    sections = article.sections or (TextSection((), article.body),)
    return kb.ArticleInput(
        source=source, external_id=article.external_id, title=article.title, body=article.body, url=article.url,
        tags=article.tags, locale=article.locale, section=article.section, updated_at=article.updated_at,
        passages=section_passages(sections, title=article.title),
    )
