"""``hub kb import`` of files as editors and file systems make them (found by the third red-team pass): UTF-16
saved by Notepad ("Unicode"), front matter opened and never closed, file names holding a newline or another
control character. Through the real CLI; each checks what an admin sees (the exit code and the lines) and what
the KB then holds."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from core import kb
from tests.test_kb_import import _stored_articles
from tests.test_kb_import_files import _import

ARTICLE = "---\ntitle: Refund policy\n---\n# Refund policy\n\nRefunds take 14 d\u00e4ys.\n"


@pytest.mark.parametrize("name,data", [
    ("utf-16-le.md", codecs.BOM_UTF16_LE + ARTICLE.encode("utf-16-le")),  # Notepad's "Unicode"
    ("utf-16-be.md", codecs.BOM_UTF16_BE + ARTICLE.encode("utf-16-be")),
    ("utf-8-bom.md", codecs.BOM_UTF8 + ARTICLE.encode("utf-8")),
    ("crlf-utf-16.md", ARTICLE.replace("\n", "\r\n").encode("utf-16")),  # Python's utf-16 writes the machine's mark
])
def test_a_file_with_a_byte_order_mark_is_read_in_the_encoding_it_names(sqlite_url: str, tmp_path: Path, name: str,
                                                                       data: bytes) -> None:
    (tmp_path / name).write_bytes(data)
    code, _, err = _import(sqlite_url, tmp_path)
    assert (code, err) == (0, "")  # was: "not UTF-8 text (byte 0: invalid start byte)", nothing imported
    [article] = _stored_articles(sqlite_url)
    assert (article.title, article.passages) == ("Refund policy", (kb.KBPassage("Refunds take 14 d\u00e4ys."),))


def test_a_pack_saved_as_utf16_is_evaluated(tmp_path: Path) -> None:
    from app import cli
    from click.testing import CliRunner
    from tests.test_kb_hostile_files import ARTICLES, QUERIES

    pack = {"format": "helpdesk-bench/v1", "name": "p", "articles": ARTICLES, "queries": QUERIES}
    (tmp_path / "pack.json").write_bytes(json.dumps(pack).encode("utf-16"))
    result = CliRunner().invoke(cli, ["eval", str(tmp_path), "--json"], env={"HUB_DENSE": "off"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["test"]["queries"] == 1


def test_a_file_without_a_mark_that_is_not_utf8_is_still_refused_in_one_line(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("# Plans\n\nThree plans.\n", encoding="utf-8")
    (tmp_path / "no-mark.md").write_bytes(ARTICLE.encode("utf-16-le"))  # UTF-16 without its mark: not guessed
    code, _, err = _import(sqlite_url, tmp_path)
    assert code == 1 and err.startswith(f"Error: {tmp_path / 'no-mark.md'}: not UTF-8 text (byte ") and err.count("\n") == 1
    assert _stored_articles(sqlite_url) == []


@pytest.mark.parametrize("text", [
    "---\ntitle: Plans\nurl: https://help.example/plans\n\n# Plans\n\nThree plans.\n",
    "---\n",
])
def test_front_matter_never_closed_is_one_line_naming_the_file(sqlite_url: str, tmp_path: Path, text: str) -> None:
    # its fields were read as the article's text ("title: Plans url: https://..."), without a word
    (tmp_path / "ok.md").write_text("# Refunds\n\nRefunds take 14 days.\n", encoding="utf-8")
    (tmp_path / "plans.md").write_text(text, encoding="utf-8")
    code, _, err = _import(sqlite_url, tmp_path)
    assert (code, err.strip()) == (1, "Error: plans.md: front matter opened by the `---` on line 1 is never closed: "
                                      "end it with a `---` line (or remove the first line, if it is a horizontal "
                                      "rule); nothing was imported")
    assert _stored_articles(sqlite_url) == []


def test_empty_front_matter_is_front_matter(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "plans.md").write_text("---\n---\n# Plans\n\nThree plans.\n", encoding="utf-8")
    code, _, err = _import(sqlite_url, tmp_path)
    assert (code, err) == (0, "")
    [article] = _stored_articles(sqlite_url)
    assert (article.title, article.passages) == ("Plans", (kb.KBPassage("Three plans."),))


@pytest.mark.parametrize("name,external_id", [
    ("refunds\nfaq", "refunds\\nfaq.md"),
    ("refunds\x1b[31m", "refunds\\x1b[31m.md"),  # a terminal escape in a notice would recolour the admin's terminal
    ("refunds\u202eqd", "refunds\\u202eqd.md"),  # a right-to-left override would reverse the line
])
def test_a_file_name_with_control_characters_is_an_id_on_one_line_and_the_same_each_import(
        sqlite_url: str, tmp_path: Path, name: str, external_id: str) -> None:
    (tmp_path / f"{name}.md").write_text("Refunds take 14 days.\n", encoding="utf-8")  # no title: a notice names it
    for _ in range(2):  # imported again: updated in place, not a second article
        code, out, err = _import(sqlite_url, tmp_path)
        assert code == 0, err
        assert err.splitlines() == [f"warning: {external_id}: no title: imported as \"{external_id[:-3].capitalize()}\" "
                                    "(from the file name)"]
    [article] = _stored_articles(sqlite_url)
    assert article.external_id == external_id and article.passages == (kb.KBPassage("Refunds take 14 days."),)
    assert out.strip().endswith("0 new or changed, 1 unchanged")
