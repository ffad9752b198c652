"""The shape of a bench pack (``helpdesk-bench/v1`` and ``/v2``, format in ``shared/bench/README.md``), checked
once when it is read, so that ``hub kb import`` and ``hub eval`` say what is wrong with a pack in one line
instead of failing on the first field they read (a ``KeyError``, or metrics counted against an article the
pack does not have)."""

from __future__ import annotations

from typing import Any

SPLITS = ("calibration", "test")
MAX_WARNINGS = 10  # lines of pack_warnings; the rest are counted


def _is_id(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip() != ""


def pack_problem(pack: dict[str, Any]) -> str | None:
    """Return what in ``pack`` cannot be read as a bench pack, or ``None`` when its shape is right.

    Checks that ``articles`` is a list of objects each with an ``id`` (text ``title``/``body``, list
    ``questions``, a list of ``sections`` objects whose ``id``, when present, is an id), and
    that ``queries``, when present, is a list of objects each with an ``id``, a ``text``, a ``split``
    (``calibration`` or ``test``), an ``expected_article_id`` that is ``null`` or one of the pack's articles,
    and ``expected_section_ids`` that are a list or ``null``.
    """
    articles = pack.get("articles", [])
    if not isinstance(articles, list) or not all(isinstance(a, dict) for a in articles):
        return "`articles` must be a list of objects ({id, title, body, questions})"
    ids: dict[str, int] = {}
    for n, a in enumerate(articles, 1):
        if not _is_id(a.get("id")):
            return f"article {n} has no `id`"
        name = str(a["id"])
        if name in ids:  # ``hub eval`` stored the later over the earlier, and measured against it, without a word
            return f"article {ids[name]} and article {n} have the same id {name!r}: each article needs its own id"
        ids[name] = n
        problem = _article_problem(a, name)
        if problem is not None:
            return problem
    queries = pack.get("queries", [])
    if not isinstance(queries, list) or not all(isinstance(q, dict) for q in queries):
        return "`queries` must be a list of objects ({id, split, text, expected_article_id})"
    for n, q in enumerate(queries, 1):
        if not _is_id(q.get("id")):
            return f"query {n} has no `id`"
        name = str(q["id"])
        if not isinstance(q.get("text"), str) or not q["text"].strip():
            return f"query {name!r} has no `text`"
        if q.get("split") not in SPLITS:
            return f"query {name!r}: `split` is {q.get('split')!r}, not \"calibration\" or \"test\""
        expected = q.get("expected_article_id")
        if expected is not None and str(expected) not in ids:
            return (f"query {name!r} expects article {expected!r}, which is not one of the pack's articles "
                    "(null marks a request the KB cannot answer)")
        sections = q.get("expected_section_ids")
        if sections is not None and not (isinstance(sections, list) and all(isinstance(x, (str, int)) for x in sections)):
            return f"query {name!r}: `expected_section_ids` must be a list of section ids or null"
    return None


def pack_warnings(pack: dict[str, Any]) -> list[str]:
    """Return what in a readable pack (:func:`pack_problem` found nothing) will skew its figures, one line each:
    a query id listed twice (the later query is measured; the details name queries by id), a section id used
    twice (an answer is judged against the later section), a ``name`` that is not text; in a v2 pack, a query
    naming a section the pack does not have (it can never be answered right), an answerable query listing no
    section (``[]``: never right at answer level), a request the KB cannot answer listing sections, a query
    naming a section of another article than its expected one whose text none of that article's named sections
    has. A pack made elsewhere is measured anyway, and these are said."""
    found: list[str] = []
    if pack.get("name") is not None and not isinstance(pack["name"], str):
        found.append(f"`name` is not text (a {type(pack['name']).__name__}): the report names the pack by it as it is")
    seen: set[str] = set()
    for q in pack.get("queries", []):
        if str(q["id"]) in seen:
            found.append(f"query {q['id']!r} is listed twice: the later one is measured")
        seen.add(str(q["id"]))
    sections: dict[str, tuple[str, str]] = {}  # section id -> (its article's id, its text)
    for a in pack.get("articles", []):
        for section in a.get("sections") or ():
            if section.get("id") is not None:
                if str(section["id"]) in sections:
                    found.append(f"section id {section['id']!r} is used twice: answers are judged against the later")
                sections[str(section["id"])] = (str(a["id"]), str(section.get("text") or section.get("heading") or ""))
    if pack.get("format") == "helpdesk-bench/v2":
        for q in pack.get("queries", []):
            found += _section_warnings(q, sections)
    if len(found) > MAX_WARNINGS:
        found = found[:MAX_WARNINGS] + [f"... and {len(found) - MAX_WARNINGS} more like these"]
    return found


def _section_warnings(query: dict[str, Any], sections: dict[str, tuple[str, str]]) -> list[str]:
    """What in a v2 query's ``expected_section_ids`` skews the answer-level figures (see :func:`pack_warnings`)."""
    name, wanted, article = query["id"], query.get("expected_section_ids"), query.get("expected_article_id")
    unknown = [x for x in wanted or () if str(x) not in sections]
    if unknown:
        return [f"query {name!r} expects section {unknown[0]!r}, which is not one of the pack's sections: no answer "
                "to it can count as right"]
    if article is None:
        return [f"query {name!r} has no expected_article_id (a request the KB cannot answer) but lists sections: an "
                "answer quoting one counts as right at answer level"] if wanted else []
    if wanted == []:
        return [f"query {name!r} expects article {article!r} and lists no section (`expected_section_ids: []`): no "
                "answer to it can count as right at answer level (null judges it by its article)"]
    named = {str(x) for x in wanted or ()}
    own = {sections[sid][1] for sid in named if sections[sid][0] == str(article)}
    # identical text in another article counts alike (shared/bench/README.md): only another text is a flaw
    other = [x for x in wanted or () if sections[str(x)][0] != str(article) and sections[str(x)][1] not in own]
    return [f"query {name!r} expects section {other[0]!r} of article {sections[str(other[0])][0]!r}, not of its "
            f"expected article {article!r}: an answer quoting it counts as right at answer level, wrong at article "
            "level"] if other else []


def _article_problem(article: dict[str, Any], name: str) -> str | None:
    """What in one article cannot be read (see :func:`pack_problem`)."""
    for key in ("title", "body"):
        if article.get(key) is not None and not isinstance(article[key], str):
            return f"article {name!r}: `{key}` must be text"
    for key in ("questions", "sections"):
        if article.get(key) is not None and not isinstance(article[key], list):
            return f"article {name!r}: `{key}` must be a list"
    # read as text, a list or a mapping here once became a question "{'a': 1}" or the URL "[1]"; `tags: 5` a traceback
    if not all(isinstance(q, str) for q in article.get("questions") or ()):
        return f"article {name!r}: `questions` must be a list of texts"
    if article.get("url") is not None and not isinstance(article["url"], str):
        return f"article {name!r}: `url` must be text"
    tags = article.get("tags")
    if tags is not None and not isinstance(tags, str) and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        return f"article {name!r}: `tags` must be text or a list of texts"
    for n, section in enumerate(article.get("sections") or (), 1):
        if not isinstance(section, dict):
            return f"article {name!r}: section {n} must be an object ({{id, heading, text}})"
        if any(section.get(key) is not None and not isinstance(section[key], str) for key in ("heading", "text")):
            return f"article {name!r}: section {n}: `heading` and `text` must be text"
        if section.get("id") is not None and not _is_id(section["id"]):
            return f"article {name!r}: section {n}: `id` must be text"
    return None
