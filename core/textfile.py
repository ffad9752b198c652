"""Reading the text files an admin hands the hub (help articles, bench packs, ticket histories)."""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

from core.errors import HubError

# A byte order mark names the encoding (Windows editors and Excel write one; "Unicode" in Notepad is UTF-16 LE).
# The UTF-32 marks come first: UTF-32 LE's starts with UTF-16 LE's.
_MARKS = ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
          (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"), (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
          (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"))


def read_utf8(path: Path, error: type[HubError]) -> str:
    """Return the text of ``path``: UTF-8, or the encoding its byte order mark names (UTF-8, UTF-16 or UTF-32,
    little- or big-endian); the mark is not part of the text. Without a mark, only UTF-8 is read. Line ends
    read as ``\\n`` (as :meth:`Path.read_text` reads them).

    Raises:
        error: naming the file (:func:`escape_controls`): not UTF-8 (or not the encoding its mark names; with the first bad byte), or
            unreadable.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise error(f"{escape_controls(str(path))}: cannot read: {e.strerror or e}") from e
    codec, name = next(((c, n) for mark, c, n in _MARKS if data.startswith(mark)), ("utf-8", "UTF-8"))
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as e:
        raise error(f"{escape_controls(str(path))}: not {name} text (byte {e.start}: {e.reason}): save it as UTF-8") from e
    return text.replace("\r\n", "\n").replace("\r", "\n")  # newlines as Path.read_text reads them


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Control characters (C0, DEL, C1), line and paragraph separators, and format characters (the bidirectional
# controls, the byte order mark, ...) but the zero-width (non-)joiners, which Persian names and emoji need.
_HIDDEN = frozenset(("Cc", "Zl", "Zp", "Cf", "Cs"))  # Cs: a byte of a name that is not UTF-8 (os.fsdecode)


def escape_controls(name: str) -> str:
    """Return a file's name with each control character written as an escape (a newline as ``\\n``, an escape
    character as ``\\x1b``, a right-to-left override as ``\\u202e``), so that it stays on one line and reads
    in order wherever it is shown; the same name always gives the same text.

    Args:
        name: a file name or path, as the file system gives it.
    """
    return "".join(_ESCAPES.get(c) or _escape(c) if unicodedata.category(c) in _HIDDEN and c not in "\u200c\u200d"
                   else c for c in name)


def _escape(char: str) -> str:
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
