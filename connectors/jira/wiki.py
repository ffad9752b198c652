"""Plain text into a Jira wiki-markup body that shows it as written. Pure.

NOTE(jira): REST v2 comment bodies are wiki markup. https://jira.atlassian.com/secure/WikiRendererHelpAction.jspa?section=all
``{id}`` is an unknown macro (an error box) and ``[Enter]`` a link, so ``{`` and ``[`` are always escaped
(``\\{``, ``\\[``). The text effects ``*strong*``, ``_emphasis_``, ``??citation??``, ``-deleted-``,
``+inserted+``, ``^superscript^`` and ``~subscript~`` are escaped only where Jira would render one, so
``5 * 3``, ``file_name_v2`` or ``2024-05-01`` stay as they are. When a mark forms follows Jira's renderer as
Atlassian's own wiki-markup parser ports it (``@atlaskit/editor-wikimarkup-transformer``,
``parser/tokenize/common-formatter.ts``): the opening symbol follows no letter or digit (nor any non-ASCII
character but a no-break space) and is not followed by a space; the closing one, on the same line, follows a
character that is not a space, is followed by no letter or digit, and leaves something between them. A run of
dashes is Jira's ``--``/``---`` (dashes), never a mark. A backslash before a mark's symbol shows it as written
(``parser/utils/escape.ts``: ``\\X`` for ``- # * _ + ? ^ ~ | % { } [ ] ( ) ! @``). URLs are left as they are,
for Jira to link.
"""

from __future__ import annotations

from connectors.text import split_urls

_MARKS = ("??", "*", "_", "-", "+", "^", "~")


def _word(char: str) -> bool:
    """A character that keeps a mark's symbol next to it from opening or closing it."""
    return (char.isascii() and char.isalnum()) or (not char.isascii() and char != "\u00a0")


def _forms_mark(text: str, at: int, mark: str) -> bool:
    """Whether the ``mark`` at ``text[at]`` opens a text effect Jira renders."""
    start = at + len(mark)
    if (at and _word(text[at - 1])) or start >= len(text) or text[start].isspace():
        return False
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    k = start
    while k < end:
        if text.startswith(mark, k):
            if k == start:  # nothing between the two
                return False
            if k + len(mark) < len(text) and _word(text[k + len(mark)]):  # not a closing one: look further
                k += len(mark)
                continue
            return not text[k - 1].isspace()
        k += 1
    return False


def wiki_plain(text: str) -> str:
    """Return plain ``text`` as a wiki-markup body that shows it as written (see the module docstring).

    Args:
        text: plain text (an answer, an agents' draft).

    Returns:
        The text with ``{`` and ``[`` escaped, and the opening symbol of each text effect Jira would render;
        its URLs untouched.
    """
    out: list[str] = []
    at = 0
    for n, part in enumerate(split_urls(text)):
        out.append(part if n % 2 else _escaped(text, at, at + len(part)))  # odd parts are URLs
        at += len(part)
    return "".join(out)


def _escaped(text: str, at: int, end: int) -> str:
    """``text[at:end]`` escaped; ``text`` whole, for the closing symbols beyond ``end``."""
    out: list[str] = []
    while at < end:
        dashes = len(text[at:end]) - len(text[at:end].lstrip("-"))
        mark = next((m for m in _MARKS if text.startswith(m, at)), None)
        if text[at] in "{[":
            piece = "\\" + text[at]
        elif dashes > 1:  # Jira's en or em dash, or dashes as written: no mark
            piece = text[at:at + dashes]
        elif mark is not None:
            piece = ("\\" if _forms_mark(text, at, mark) else "") + mark
        else:
            piece = text[at]
        out.append(piece)
        at += len(piece) - piece.startswith("\\")
    return "".join(out)
