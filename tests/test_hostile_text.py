"""Hostile text on a requester's and a KB's path: runs of marks that never close, a megabyte of blank lines.

Each case once made a function rescan the rest of the text from every mark (quadratic: hours of a worker's
CPU for a 1 MiB webhook comment); ``bench/hostile_text.py`` times them. Tests do not time things: where the old
code effectively hung, a 10 s alarm stops the test (the new code takes well under a second); elsewhere the test
counts the work through what the function calls.
"""

from __future__ import annotations

import pytest

from connectors.jira.wiki import wiki_plain
from connectors.text import split_urls, wiki_to_text
from connectors.zendesk.mapping import article, comment_text
from core.html import html_to_text, parse_html
from interceptor.kb.markdown import markdown_sections, markdown_to_text
from interceptor.kb.screen import not_an_article
from interceptor.prefilter import clean

MIB = 1024 * 1024


@pytest.mark.parametrize("text", ["\n" * MIB, " \n" * (MIB // 2), "\n\n> \n" * (MIB // 4)])
def test_prefilter_reads_a_megabyte_of_blank_lines_once(within_10_seconds: None, text: str) -> None:
    assert len(clean(text).questions) <= 1


@pytest.mark.parametrize("text", [":" + "a" * MIB, (":" + "a" * 5000 + " ") * (MIB // 5000)])
def test_prefilter_reads_a_colon_before_a_megabyte_of_letters_once(within_10_seconds: None, text: str) -> None:
    assert len(clean(text).text) >= len(text.strip()) - 1  # no emoji shortcode: nothing taken out


def test_prefilter_still_cuts_a_quoted_reply_after_blank_lines() -> None:
    text = "How do I reset my password?\n\n \n  On Mon, 2 Nov 2026, Bob <b@x.example> wrote:\n> Why is the VPN down?"
    assert clean(text).questions == ("How do I reset my password?",)


@pytest.mark.parametrize("run", ["[", "[a", "[a|", "[~", "[~accountid:", "[http:", "{{", "{code:", "{code}a", "{noformat:x}", "{panel:", "_a ",
                                 "__a ", "\n", " \n", "![", "# \n", "#" * 999 + " x\n# y\n"])
def test_wiki_marks_that_never_close_are_read_once(within_10_seconds: None, run: str) -> None:
    text = run * (MIB // len(run))
    assert len(wiki_to_text(text)) <= 3 * len(text)


@pytest.mark.parametrize("markup,text", [
    ("[a [b|https://x.example]", "a [b (https://x.example)"),  # a link's label may hold a [ (as before)
    ("{{a {{b}} c}}", "a {{b c}}"),
    ("_a _b_ c_", "a _b c_"),
    ("[~bob] and [~accountid:123] [~", "@bob and @123 [~"),
    ("{code:java}x{code} {panel:title=y", "x {panel:title=y"),
    ("text\n\n* item\n  # sub", "text\n\n- item\n1. sub"),  # "#" numbers (it read "- sub"); the blank line stays, as ADF's
])
def test_wiki_rules_read_as_before(markup: str, text: str) -> None:
    assert wiki_to_text(markup) == text


def test_a_url_ending_in_a_megabyte_of_closing_brackets_is_trimmed_in_one_pass(within_10_seconds: None) -> None:
    text = "see http://x.example/a(b)" + ")" * MIB
    assert split_urls(text) == ["see ", "http://x.example/a(b)", ")" * MIB]
    assert wiki_plain(text).startswith("see http://x.example/a(b)")


@pytest.mark.parametrize("run", ["*a ", "_a ", "**a ", "__a ", "*", "[", "[a", "[a](", "![", "![a](", "<!--",
                                 '<a href="x">'])
def test_markdown_marks_that_never_close_are_read_once(within_10_seconds: None, run: str) -> None:
    text = run * (MIB // len(run))
    assert len(markdown_to_text(text)) <= len(text)
    assert len(markdown_sections(f"# {text}\n\n{text}")) <= 1


@pytest.mark.parametrize("markdown,text", [  # as the regular expressions read them before
    ("**a __b** c__", "a _b c_"),  # bold first, leftmost first; what a closed span holds is not read again
    ("***x***", "x"),
    ("a_b_c *d* _e_", "a_b_c d e"),
    ("`*x*` **y**", "*x* y"),
    ("[a](http://x \"t\") [b", "a (http://x) [b"),
    ("<!-- x", "<!-- x"),
    ("![i](p) ![j", "i ![j"),
])
def test_markdown_rules_read_as_before(markdown: str, text: str) -> None:
    assert markdown_to_text(markdown) == text


@pytest.mark.parametrize("run", ["<a ", "<!--", "<http://x|", "</a ", "<!x "])
def test_html_whose_last_tags_never_close_is_read_once(within_10_seconds: None, run: str) -> None:
    tail = run * (MIB // len(run))
    assert html_to_text(tail) == " ".join(tail.split())  # nothing after the last ">" is a tag: all of it is text
    assert parse_html(f"<html><body><article><h1>T</h1><p>x</p>{tail}").text.startswith("T\n")


@pytest.mark.parametrize("html,text", [
    ("<p>a < b &amp; c</p> d <e &amp;", "a < b & c\n\nd <e &"),
    ("x <!-- never closed <b>y", "x <!-- never closed <b>y"),
])
def test_html_after_the_last_tag_reads_as_before(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize("run", ["<!--x>", "<!--<p>", "<![CDATA[x>", "<![if x>"])
def test_html_comments_and_sections_that_never_close_are_read_once(within_10_seconds: None, run: str) -> None:
    text = run * (MIB // len(run))  # Python's parser looked for "-->" ("]]>", "]>") from each to the end of the text
    assert html_to_text(f"<p>a {text} b</p><p>c</p>") == f"a {text} b\n\nc"  # each reads as text to its ">"
    page = parse_html(f"<html><body><article><h1>T</h1><p>x</p>{text}</article><p>footer</p></body></html>")
    assert page.text.startswith("T\n\nx\n\n<") and page.text.endswith(run) and "footer" not in page.text


@pytest.mark.parametrize("html,text", [("<p>Hi <![x> there</p>", "Hi there"), ("a <![ > b", "a b"),
                                       ("<p>Hi <![x there</p><p>again</p>", "Hi\n\nagain")])
def test_a_marked_section_python_cannot_name_reads_as_a_browser_reads_it(html: str, text: str) -> None:
    assert html_to_text(html) == text  # Python's parser raised AssertionError: a bogus comment, to the next ">"
    assert comment_text({"html_body": html}) == text  # a requester's e-mail, as Zendesk shows it
    kb = article({"id": 1, "title": "Refunds", "body": f"<h2>Policy</h2>{html}", "html_url": "https://x.example/hc/1"})
    assert kb.body == f"Policy\n\n{text}" and kb.sections[0].text == text


@pytest.mark.parametrize("html,text", [
    ("a <br<br<br b", "a <br<br<br b"),
    ("<p><![if !supportLists]>1.<![endif]> Step</p>", "1. Step"),  # Word's list numbers, pasted into an e-mail
    ("<p>a<!--[if mso]><b>x</b><![endif]-->b</p>", "ab"),
    ("<!--x> a --> b", "b"),
    ("<p>a <![CDATA[x]]> b</p>", "a b"),
    ("<p>a <!--x> b</p><p>c</p>", "a <!--x> b\n\nc"),  # a comment never closed is text, to the next ">"
    ("<p>a <![CDATA[x> b</p><p>c</p>", "a <![CDATA[x> b\n\nc"),
])
def test_html_comments_and_sections_read_as_before(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize("text", ["```\n" * (MIB // 4), "    \n" * (MIB // 5) + "    pip install x\n", "`" * MIB,
                                  "~" * MIB])
def test_screening_a_megabyte_of_empty_code_reads_each_line_once(within_10_seconds: None, text: str) -> None:
    reason = not_an_article("guide.md", text, front_matter=False)
    assert reason is None if "pip" not in text else "`pip install`" in (reason or "")


def test_lists_nested_thousands_deep_are_indented_ten_levels_at_most() -> None:
    text = html_to_text("<ul>" * 2000 + "<li>x" * 2000)  # each item was indented by its depth: 8 MB of spaces
    assert text.split("\n")[-1] == " " * 20 + "- x" and len(text) < 30 * 2000
    assert html_to_text("<ul><li>a<ul><li>b<ul><li>c</li></ul></li></ul></li></ul>") == "- a\n  - b\n    - c"
