"""The shape of a bench pack (``helpdesk-bench/v1`` and ``/v2``, format in ``shared/bench/README.md``), checked
once when it is read, so that ``hub kb import`` and ``hub eval`` say what is wrong with a pack in one line
instead of failing on the first field they read (a ``KeyError``, or metrics counted against an article the
pack does not have)."""

from __future__ import annotations

from typing import Any

SPLITS = ("calibration", "test")


def _is_id(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip() != ""


def pack_problem(pack: dict[str, Any]) -> str | None:
    """Return what in ``pack`` cannot be read as a bench pack, or ``None`` when its shape is right.

    Checks that ``articles`` is a list of objects each with an ``id`` (text ``title``/``body``, list
    ``questions``/``sections`` when present), and that ``queries``, when present, is a list of objects each with
    an ``id``, a ``text``, a ``split`` (``calibration`` or ``test``) and an ``expected_article_id`` that is
    ``null`` or one of the pack's articles.
    """
    articles = pack.get("articles", [])
    if not isinstance(articles, list) or not all(isinstance(a, dict) for a in articles):
        return "`articles` must be a list of objects ({id, title, body, questions})"
    ids: set[str] = set()
    for n, a in enumerate(articles, 1):
        if not _is_id(a.get("id")):
            return f"article {n} has no `id`"
        name = str(a["id"])
        ids.add(name)
        for key in ("title", "body"):
            if a.get(key) is not None and not isinstance(a[key], str):
                return f"article {name!r}: `{key}` must be text"
        for key in ("questions", "sections"):
            if a.get(key) is not None and not isinstance(a[key], list):
                return f"article {name!r}: `{key}` must be a list"
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
        if sections is not None and not isinstance(sections, list):
            return f"query {name!r}: `expected_section_ids` must be a list or null"
    return None
