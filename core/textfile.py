"""Reading the text files an admin hands the hub (help articles, bench packs, ticket histories)."""

from __future__ import annotations

from pathlib import Path

from core.errors import HubError


def read_utf8(path: Path, error: type[HubError]) -> str:
    """Return the text of ``path``, UTF-8 with or without a byte order mark (Windows editors and Excel write one:
    it is not part of the text).

    Raises:
        error: naming the file: not UTF-8 (with the first bad byte), or unreadable.
    """
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}): save it as UTF-8") from e
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror or e}") from e
