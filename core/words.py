"""Counts as people write them: "1 article", "2 articles". One helper for every line the CLI, the dashboard
and the hub's own messages print, so that no output says "1 articles"."""

from __future__ import annotations


def plural(n: int, one: str, many: str | None = None) -> str:
    """Return ``n`` with the noun in the number it asks for.

    Args:
        n: the count.
        one: the noun for one (``"article"``, ``"past ticket"``).
        many: the noun for any other count, when it is not ``one + "s"`` (``"replies"``).

    Returns:
        ``"1 article"``, ``"0 articles"``, ``"2 articles"``.
    """
    return f"{n} {one if n == 1 else (many or one + 's')}"
