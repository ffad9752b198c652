"""A v1 pack's article body is one text: its sections are found in it, whether it is HTML, Markdown or plain text
copied from a help page (headings as short lines of their own), so a passage never spans two sections and
carries its heading, as with every other source."""

from __future__ import annotations

import pytest

from interceptor.kb.body import body_sections, heading_like, plain_sections
from interceptor.kb.importer import pack_articles

PAGE = """Access your VA life insurance policy online
If you have VA life insurance, the easiest way to manage your policy is online. You can check your policy's status.

How do I access my policy?
If your file number starts with a V, RH, J, RS, K, or W, access your policy online through VA.

Can I change my beneficiary?
Yes. Update your beneficiary online at any time.
Tell us if you get divorced or have a child.

Other ways to get help

Call us
Call 800-669-8477, Monday through Friday, 8:00 a.m. to 6:00 p.m. ET.
"""


def test_plain_text_headings_open_sections_and_lead_those_under_them() -> None:
    sections = [(s.heading_path, s.text) for s in plain_sections(PAGE)]
    assert sections == [
        (("Access your VA life insurance policy online",),
         "If you have VA life insurance, the easiest way to manage your policy is online. You can check your policy's status."),
        (("How do I access my policy?",), "If your file number starts with a V, RH, J, RS, K, or W, access your policy online through VA."),
        (("Can I change my beneficiary?",), "Yes. Update your beneficiary online at any time.\nTell us if you get divorced or have a child."),
        (("Other ways to get help", "Call us"), "Call 800-669-8477, Monday through Friday, 8:00 a.m. to 6:00 p.m. ET."),
    ]


@pytest.mark.parametrize("line,expected", [
    ("How do I access my policy?", True),
    ("VA life insurance options", True),
    ("2. Apply online", False),  # a list item
    ("- Check your status", False),
    ("You can apply online.", False),  # a sentence
    ("Step 1: Apply online", True),
    ("Yes. Update it online", False),
    ("You will need", True),
    ("You will need:", False),  # introduces a list
    ("Plan | Price", False),  # a table row
    ("if you have a policy", False),  # text starts in lower case
    ("One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen", False),
    ("", False),
])
def test_what_reads_as_a_heading(line: str, expected: bool) -> None:
    assert heading_like(line) is expected


def test_plain_text_without_headings_is_one_section() -> None:
    text = "Open Reports, pick a date range and click Export.\n\nThe file downloads as a CSV.\n\nThanks for reading"
    [section] = plain_sections(text)
    assert section.heading_path == () and section.text.endswith("Thanks for reading")  # a last short line is text


def test_html_and_markdown_bodies_keep_their_own_headings() -> None:
    html = "<p>Start here.</p><h2>Export a report</h2><p>Click Export.</p><h2>Schedule a report</h2><p>Click Schedule.</p>"
    assert [(s.heading_path, s.text) for s in body_sections(html)] == [
        ((), "Start here."), (("Export a report",), "Click Export."), (("Schedule a report",), "Click Schedule.")]
    markdown = "Start here.\n\n## Export a report\n\nClick **Export**.\n\nSchedule a report\n---\n\nClick Schedule.\n"
    assert [(s.heading_path, s.text) for s in body_sections(markdown)] == [
        ((), "Start here."), (("Export a report",), "Click Export."), (("Schedule a report",), "Click Schedule.")]


def test_a_v1_pack_article_is_split_at_its_body_s_headings() -> None:
    pack = {"format": "helpdesk-bench/v1", "articles": [
        {"id": "a1", "title": "Access your VA life insurance policy online", "body": PAGE, "questions": []},
        {"id": "a2", "title": "Cards", "body": "", "questions": ["my card is lost"]}]}
    policy, cards = pack_articles(pack)
    assert [p.heading_path for p in policy.passages] == [
        (), ("How do I access my policy?",), ("Can I change my beneficiary?",), ("Other ways to get help", "Call us")]
    assert policy.passages[1].text.startswith("If your file number starts with a V")
    assert cards.passages == () and cards.questions == ("my card is lost",)  # a bodiless article, as before
