"""The import screen: which files are clearly not help articles, and which lack a title.

The rule is deliberately narrow and only applies to Markdown **without front matter** (front matter is
how an author says "this is an article": it carries the title and the URL answers link to). Such a file is
skipped, unless the import is forced, when

1. its name is a repository's boilerplate (``README``, ``CHANGELOG``, ``CONTRIBUTING``, ``LICENSE``, ...), or
2. a code block in it runs install or build commands (``pip install``, ``npm install``, ``git clone``,
   ``make``, ``docker run``, ...): developer documentation, not an answer for the people who write in.

Everything else is imported. A file whose title had to come from its file name (no ``title`` in front
matter, no ``# heading``; for HTML no ``<title>`` and no ``<h1>``) is imported with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

BOILERPLATE = frozenset(
    "readme changelog changes history news contributing contributors license licence copying notice authors "
    "code_of_conduct code-of-conduct security support todo".split()
)
# A fence opens only on a line that ends (as before): the lookahead reads a line once, not once per backtick it
# could give back ("`" * 75,000 on one line took minutes). A line ending after 75,000 backticks is still slow.
_FENCED = re.compile(r"^\s{0,3}(?=[^\n]*\n)(```+|~~~+)[^\n]*\n(.*?)^\s{0,3}\1", re.S | re.M)
_COMMAND = re.compile(
    r"^[^\S\n]*(?:\$\s+|>\s+)?(?:sudo\s+)?(?:"  # (\s* would rescan every blank line after each line start)
    r"pip3?\s+install|pipx\s+install|python3?\s+(?:-m\s+\w+|setup\.py)|poetry\s+(?:install|add)|uv\s+(?:pip|sync|add)|"
    r"npm\s+(?:install|i|run|ci)|yarn\s+(?:add|install)?|pnpm\s+(?:add|install)|npx\s|"
    r"brew\s+install|apt(?:-get)?\s+install|yum\s+install|dnf\s+install|apk\s+add|"
    r"cargo\s+(?:install|build|run)|go\s+(?:get|install|build|run)|gem\s+install|bundle\s+install|"
    r"make(?:\s|$)|cmake\s|\./configure|git\s+clone|docker(?:-compose)?\s+(?:run|build|compose|pull|up)|"
    r"kubectl\s+apply|helm\s+install|curl\s[^\n]*\|\s*(?:ba|z)?sh)",
    re.M,
)


@dataclass(frozen=True)
class ImportNotice:
    """Something an admin should know about one file: ``kind`` is ``"skipped"`` or ``"warning"``."""

    path: str
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}: {self.reason}"


def _code(markdown: str) -> str:
    fenced = "\n".join(m.group(2) for m in _FENCED.finditer(markdown))
    indented = "\n".join(line for line in markdown.split("\n") if line.startswith(("    ", "\t")))
    return f"{fenced}\n{indented}"


def not_an_article(name: str, markdown: str, *, front_matter: bool) -> str | None:
    """Return why a Markdown file is clearly not a help article, or ``None`` when it may be one.

    Args:
        name: the file's path (only its name is read).
        markdown: the file's text.
        front_matter: whether the file starts with YAML front matter (then it is never screened out).

    Returns:
        The reason, worded for the admin, or ``None``.
    """
    if front_matter:
        return None
    stem = PurePosixPath(name).stem
    if stem.lower() in BOILERPLATE:
        return f"a {stem} file without front matter is not a help article"
    command = _COMMAND.search(_code(markdown))
    if command:
        return (f"developer documentation without front matter (its code runs `{command.group(0).strip()}`); "
                "give it front matter with a title to import it as an article")
    return None
