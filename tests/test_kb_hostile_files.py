"""``hub kb import`` of files as a hostile or careless folder holds them (found by the second red-team pass):
front matter of the wrong types, scripts and comments in Markdown, an iframe and a closing bold line in HTML,
lines that made the Markdown reader rescan runs of spaces, a folder it may not list, a pack nested too deep.

Each case checks what an admin sees (the exit code and the one line) and what the KB then holds (passages).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from core import kb
from interceptor.kb.importer import parse_html, parse_markdown
from interceptor.kb.markdown import markdown_to_text
from tests.test_kb_import import _stored_articles
from tests.test_kb_import_files import _import


@pytest.mark.parametrize("front,error", [
    ("title: [1, 2]", "front matter `title` must be text, not a list"),
    ("url: {href: x}", "front matter `url` must be text, not a mapping"),
    ("tags: {billing: yes}", "front matter `tags` must be text or a list of texts, not a mapping"),
    ("questions: [[a, b]]", "front matter `questions` must be text or a list of texts, not a list holding lists or mappings"),
    # nine lists of nine, nine deep (a YAML alias bomb): 4 s and a 300 MB tag before
    ("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh")) + "tags: *h",
     "front matter `tags` must be text or a list of texts, not a list holding lists or mappings"),
])
def test_front_matter_of_a_wrong_type_is_one_line_naming_the_file_and_field(sqlite_url: str, tmp_path: Path, front: str,
                                                                             error: str) -> None:
    (tmp_path / "ok.md").write_text("# Refunds\n\nRefunds take 14 days.\n", encoding="utf-8")
    (tmp_path / "plans.md").write_text(f"---\n{front}\n---\n# Plans\n\nThree plans.\n", encoding="utf-8")
    code, _, err = _import(sqlite_url, tmp_path)
    assert (code, err.strip()) == (1, f"Error: plans.md: {error}; nothing was imported")
    assert _stored_articles(sqlite_url) == []


def test_one_number_as_tags_or_questions_is_one_tag_or_question(sqlite_url: str, tmp_path: Path) -> None:
    # `tags: 5` was a traceback (TypeError: 'int' object is not iterable)
    (tmp_path / "plans.md").write_text("---\ntitle: Plans\ntags: 2024\nquestions: 7\n---\nThree plans.\n", encoding="utf-8")
    code, _, err = _import(sqlite_url, tmp_path)
    assert code == 0, err
    [article] = _stored_articles(sqlite_url)
    assert article.tags == ("2024",)


def test_a_bench_pack_nested_too_deep_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "pack.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")  # a RecursionError traceback
    code, _, err = _import(sqlite_url, tmp_path / "pack.json")
    assert (code, err.strip()) == (1, f"Error: {tmp_path / 'pack.json'}: not a bench pack (JSON nested too deep to read); "
                                      "nothing was imported")


MARKDOWN_WITH_HIDDEN_HTML = """# Reset your password

Open Settings, then Reset.

<script>
track("reset");

# not a heading: script text
</script>

<style>
.note { color: red }
</style>

<!--
Draft: mention the old portal?

## not a heading either
-->

Passwords expire after 90 days <script>alert("x")</script>unless SSO is on.<iframe src="https://x.example">Frame text</iframe>

## If you use SSO

Ask your admin.
"""


def test_markdown_scripts_styles_iframes_and_comments_are_not_indexed() -> None:
    article = parse_markdown(MARKDOWN_WITH_HIDDEN_HTML, "reset.md")
    assert [(p.heading_path, p.text) for p in article.passages] == [
        ((), "Open Settings, then Reset.\n\nPasswords expire after 90 days unless SSO is on."),
        (("If you use SSO",), "Ask your admin."),
    ]


def test_a_comment_never_closed_in_markdown_hides_nothing() -> None:
    assert markdown_to_text("<!-- TODO: check\n\nRefunds take 14 days.") == "<!-- TODO: check\n\nRefunds take 14 days."


def test_nested_block_quotes_read_as_their_text() -> None:
    assert markdown_to_text("> > Refunds take 14 days.\n>> Call us.") == "Refunds take 14 days.\nCall us."


def test_html_iframes_are_not_read_and_a_closing_bold_line_is_kept() -> None:
    page = ("<h1>Refunds</h1><p>Refunds take 14 days.</p><iframe src='https://video.example'>Your browser cannot "
            "show this video</iframe><p><strong>Call us on 555 1234</strong></p>")
    article = parse_html(page, "refunds.html")
    assert article.passages == (kb.KBPassage("Refunds take 14 days.\n\nCall us on 555 1234"),)


def test_bold_lines_that_head_nothing_stay_text_and_the_last_one_heads_its_part() -> None:
    page = "<h1>Plans</h1><p>Intro.</p><p><b>Billing</b></p><p><b>Refunds</b></p><p>Take 14 days.</p>"
    article = parse_html(page, "plans.html")
    assert [(p.heading_path, p.text) for p in article.passages] == [
        ((), "Intro.\n\nBilling"), (("Refunds",), "Take 14 days.")]


SPACES = " " * 80_000


@pytest.mark.parametrize("markdown", [
    "".join("  " * i + "- item\n" for i in range(1500)),  # over 5 minutes at 3,000 levels
    f"# a{SPACES}#{SPACES}x",  # a heading: a lazy (.*?) before \s*$
    f"---{SPACES}x",  # a table's | --- | rule: two \s* around an optional |
    f">{SPACES}x",  # a hard break's [ \t]*\\$ tried from each space
])
def test_markdown_lines_of_long_space_runs_are_read_once(within_10_seconds: None, markdown: str) -> None:
    article = parse_markdown(f"# Title\n\n{markdown}\n\nafter", "x.md")
    assert article.passages[-1].text.endswith("after")


def test_a_folder_the_import_may_not_list_is_named_not_passed_over(sqlite_url: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # NOTE: tests run as root, for whom chmod 000 hides nothing: the file system's refusal is raised by os.scandir,
    # which Path.rglob ignores (an article in the folder was left out without a word)
    (tmp_path / "ok.md").write_text("# Refunds\n\nRefunds take 14 days.\n", encoding="utf-8")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "sso.md").write_text("# SSO\n\nAsk your admin.\n", encoding="utf-8")
    scandir = os.scandir

    def refusing(path: Any = ".") -> Any:
        if Path(path) == tmp_path / "private":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    code, _, err = _import(sqlite_url, tmp_path)
    assert (code, err.strip()) == (1, f"Error: {tmp_path / 'private'}: cannot read the folder: Permission denied; "
                                      "nothing was imported")
    assert _stored_articles(sqlite_url) == []


def _eval(pack: Any, tmp_path: Path) -> tuple[int, str]:
    from app import cli
    from click.testing import CliRunner

    (tmp_path / "pack.json").write_text(json.dumps(pack) if not isinstance(pack, str) else pack, encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(tmp_path), "--json"], env={"HUB_DENSE": "off"})
    return result.exit_code, result.stderr.strip()


ARTICLES = [{"id": "a1", "title": "Reset password", "body": "Open Settings, then Reset.", "questions": ["reset password"]},
            {"id": "a2", "title": "Refunds", "body": "Refunds take 14 days.", "questions": ["refund time"]}]
QUERIES = [{"id": "q1", "split": "test", "text": "how do I reset my password", "expected_article_id": "a1"}]


@pytest.mark.parametrize("change,error", [
    ({"tags": 5}, "article 'a1': `tags` must be text or a list of texts"),  # a traceback
    ({"url": ["https://x.example"]}, "article 'a1': `url` must be text"),  # the URL "['https://x.example']"
    ({"questions": ["reset", {"a": 1}]}, "article 'a1': `questions` must be a list of texts"),  # a question "{'a': 1}"
    ({"sections": [{"id": "s1", "heading": 5, "text": 7}]}, "article 'a1': section 1: `heading` and `text` must be text"),
    ({"id": "a2"}, "article 1 and article 2 have the same id 'a2': each article needs its own id"),  # measured silently
])
def test_eval_of_a_pack_with_an_article_field_of_a_wrong_type_is_one_line(tmp_path: Path, change: dict[str, Any],
                                                                          error: str) -> None:
    pack = {"format": "helpdesk-bench/v2", "name": "p", "articles": [dict(ARTICLES[0], **change), ARTICLES[1]],
            "queries": [dict(QUERIES[0], expected_article_id="a2")]}
    assert _eval(pack, tmp_path) == (1, f"Error: {tmp_path / 'pack.json'}: {error}")


def test_eval_of_a_pack_nested_too_deep_is_one_line(tmp_path: Path) -> None:
    assert _eval("[" * 100_000 + "]" * 100_000, tmp_path) == (
        1, f"Error: {tmp_path / 'pack.json'}: not a bench pack (JSON nested too deep to read)")
