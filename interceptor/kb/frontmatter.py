"""A Markdown file's front matter: YAML between a ``---`` first line and the next ``---`` line, read and checked.

Every problem with it is one line naming the file (``error``, the importer's ``KBImportError``), and the import
stops: not YAML (saying where), not a mapping, a field of a type the import does not take, or a front matter
that is opened and never closed (its fields would otherwise be read as the article's text, without a word).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import yaml

from core.errors import HubError

_SCALAR = (str, int, float, date)  # YAML reads `2024`, `1.5` and `2024-01-01` as numbers and dates: text here
_ONE = ("title", "url", "locale", "section", "id")  # front matter fields of one value
_MANY = ("tags", "questions")  # and of one or a list
_OPENED = re.compile(r"---[ \t]*(?:\n|\Z)")
_CLOSED = re.compile(r"---[ \t]*\n(?:(.*?)\n)??---[ \t]*(?:\n|\Z)", re.S)  # (an empty one, "---\n---", too)


def split_front_matter(text: str, external_id: str, error: type[HubError]) -> tuple[dict[str, Any], str, bool]:
    """Return a Markdown file's front matter, the text after it, and whether it has one.

    Args:
        text: the file's text, ``\\n`` line ends.
        external_id: the file's name, for the error line.
        error: the error to raise.

    Raises:
        error: naming the file: front matter never closed, not YAML (line and column), not a mapping, or a field
            of the wrong type (:func:`checked`).
    """
    match = _CLOSED.match(text)
    if match is None:
        if _OPENED.match(text):
            raise error(f"{external_id}: front matter opened by the `---` on line 1 is never closed: end it with a "
                        "`---` line (or remove the first line, if it is a horizontal rule)")
        return {}, text, False
    try:
        loaded = yaml.safe_load(match.group(1) or "") or {}
    except yaml.YAMLError as e:  # one line: where in the file (the opening --- is line 1), and what
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 2}, column {mark.column + 1})" if mark is not None else ""
        raise error(f"{external_id}: bad front matter{where}: {getattr(e, 'problem', None) or e}") from e
    if not isinstance(loaded, dict):
        raise error(f"{external_id}: front matter must be a mapping")
    return checked(loaded, external_id, error), text[match.end():], True


def checked(meta: dict[str, Any], external_id: str, error: type[HubError]) -> dict[str, Any]:
    """``meta``, when each field the import reads has a type it takes.

    Raises:
        error: naming the file and the field: a list or mapping where one value goes (``title: [a, b]`` once
            became the title ``[a, b]``), or a list holding lists or mappings (``tags: 5`` was a traceback; a
            YAML alias nested nine deep became a tag of 300 MB).
    """
    for key in _ONE + _MANY:
        value = meta.get(key)
        many = key in _MANY
        if value is not None and not isinstance(value, _SCALAR) and not (
                many and isinstance(value, list) and all(v is None or isinstance(v, _SCALAR) for v in value)):
            found = ("a list" + " holding lists or mappings" * many if isinstance(value, list) else
                     "a mapping" if isinstance(value, dict) else type(value).__name__)
            raise error(f"{external_id}: front matter `{key}` must be text{' or a list of texts' * many}, not {found}")
    return meta
