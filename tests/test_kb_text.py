"""The one HTML converter (file import, Help Center sync, Zendesk comments) and Markdown to plain text:
what a person reads in the quoted passage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.text import html_to_text as connector_html_to_text
from connectors.zendesk import mapping
from core.html import html_to_text, parse_html
from interceptor.kb.importer import from_knowledge_article, parse_html as parse_html_article, parse_markdown
from interceptor.kb.markdown import markdown_sections, markdown_to_text

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zendesk"


def test_one_converter_serves_comments_help_center_and_files() -> None:
    html = "<h2>Reset</h2><p>Open <a href='https://a.example/s'>Settings</a>.</p><ul><li>one</li><li>two</li></ul>"
    assert connector_html_to_text is html_to_text
    [section] = [s for s in parse_html(html).sections]
    assert section.heading_path == ("Reset",)
    file_article = parse_html_article(f"<title>T</title>{html}", "t.html")
    assert [(p.heading_path, p.text) for p in file_article.passages] == [(("Reset",), section.text)]
    raw = json.loads((FIXTURES / "hc_incremental_articles.json").read_text())["articles"][1] | {"body": html}
    pulled = mapping.article(raw)
    assert pulled is not None
    synced = from_knowledge_article("zendesk_hc", pulled)
    assert [(p.heading_path, p.text) for p in synced.passages] == [(("Reset",), section.text)]
    assert section.text == "Open Settings (https://a.example/s).\n\n- one\n- two"


def test_entities_tables_code_and_nested_lists_stay_readable_and_page_chrome_is_dropped() -> None:
    html = """<html><head><title>Plans</title><style>.x{color:red}</style><script>track()</script></head>
    <body><nav><a href="/">Home</a> &gt; <a href="/hc">Help</a></nav>
    <p>Prices&nbsp;are in&nbsp;EUR &amp; include VAT &#8212; see &lt;Billing&gt;.</p>
    <table><thead><tr><th>Plan</th><th>Price</th></tr></thead>
    <tbody><tr><td><p>Starter</p></td><td>&euro;9</td></tr><tr><td>Pro</td><td>&euro;19</td></tr></tbody></table>
    <ol><li>Open <b>Billing</b><ul><li>choose a plan</li><li>confirm</li></ul></li><li>Pay</li></ol>
    <pre>curl -X POST \\
  https://api.example/plans</pre>
    <footer>© Example</footer></body></html>"""
    assert html_to_text(html) == (
        "Prices are in EUR & include VAT \u2014 see <Billing>.\n\n"
        "Plan | Price\nStarter | \u20ac9\nPro | \u20ac19\n\n"
        "1. Open Billing\n  - choose a plan\n  - confirm\n2. Pay\n\n"
        "curl -X POST \\\n  https://api.example/plans"
    )


def test_a_help_center_body_with_h2_and_h3_nests_its_sections() -> None:
    raw = json.loads((FIXTURES / "hc_incremental_articles.json").read_text())["articles"][1]
    body = ("<p>Passwords expire every 90 days.</p><h2>Reset it yourself</h2><p>Use the link.</p>"
            "<h3>On mobile</h3><p>Tap <strong>Forgot?</strong> on the sign-in screen.</p>"
            "<h2>Ask an admin</h2><p>Admins can reset it under <em>People</em>.</p>")
    pulled = mapping.article(raw | {"body": body})
    assert pulled is not None
    article = from_knowledge_article("zendesk_hc", pulled)
    assert [(p.heading_path, p.text) for p in article.passages] == [
        ((), "Passwords expire every 90 days."),
        (("Reset it yourself",), "Use the link."),
        (("Reset it yourself", "On mobile"), "Tap Forgot? on the sign-in screen."),
        (("Ask an admin",), "Admins can reset it under People."),
    ]


HARD_WRAPPED = """---
title: Approve timesheets
---
Managers approve timesheets every Friday. The approval locks
the week's entries so that invoices and payroll exports use the
numbers everyone agreed on.

## Steps

1. Open **Approvals** and pick
   the week.
2. Click **Approve all**, or approve
   one person at a time.
   - Rejected weeks go back to the person
     with your comment.

```
GET /v1/approvals?week=2026-W48
```

Line one of an address  
Line two of an address
"""


def test_a_hard_wrapped_markdown_paragraph_is_one_paragraph_and_lists_and_code_are_kept() -> None:
    article = parse_markdown(HARD_WRAPPED, "approve.md")
    first, steps = article.passages
    assert first.text == ("Managers approve timesheets every Friday. The approval locks the week's entries so that "
                          "invoices and payroll exports use the numbers everyone agreed on.")
    assert steps.heading_path == ("Steps",)
    assert steps.text == (
        "1. Open Approvals and pick the week.\n"
        "2. Click Approve all, or approve one person at a time.\n"
        "   - Rejected weeks go back to the person with your comment.\n\n"
        "GET /v1/approvals?week=2026-W48\n\n"
        "Line one of an address\nLine two of an address"
    )


def test_markdown_headings_inside_code_do_not_open_sections_and_h5_stays_text() -> None:
    md = "Intro.\n\n```\n# a shell comment\n```\n\n##### Note\nSmall print.\n\n#### Deep\nText."
    assert [(s.heading_path, s.text) for s in markdown_sections(md)] == [
        ((), "Intro.\n\n# a shell comment\n\nNote\nSmall print."),
        (("Deep",), "Text."),
    ]
    assert markdown_to_text("| a | b |\n|---|:-:|\n| 1 | 2 |") == "| a | b |\n| 1 | 2 |"


def test_sloppy_html_reads_as_a_browser_shows_it_and_sidebars_are_dropped() -> None:
    html = ("<ul><li>a<li>b</ul><p>after<table><tr><td>x<td>y<tr><td>1<td>2</table><p>end"
            "<aside><h3>Related articles</h3><ul><li>Other</li></ul></aside>")
    assert html_to_text(html) == "- a\n- b\n\nafter\n\nx | y\n1 | 2\n\nend"
    assert parse_html(html).sections[-1].heading_path == ()  # the sidebar's heading opened no section


def test_setext_headings_open_sections_and_a_setext_title_is_the_title() -> None:
    article = parse_markdown("Billing FAQ\n===========\n\nPay by card.\n\nRefunds\n-------\nWithin\n30 days.\n", "faq.md")
    assert article.title == "Billing FAQ"
    assert [(p.heading_path, p.text) for p in article.passages] == [((), "Pay by card."), (("Refunds",), "Within 30 days.")]
    assert markdown_to_text("```\ncode\n---\n```") == "code\n---"  # inside code it is code


HELP_CENTER_HTML = [  # (what an editor writes, what the reader gets)
    pytest.param('<ol><li>Open Okta.</li><li>Choose SAML.</li></ol><p><img src="/a/1.png" alt="The dialog"></p>'
                 '<ol start="3"><li>Paste the URL.</li></ol>',
                 "1. Open Okta.\n2. Choose SAML.\n3. Paste the URL.", id="steps continued after a screenshot"),
    pytest.param('<p>Click <img src="/a/gear.png" alt="the gear icon"> then <b>Save</b>.</p>',
                 "Click the gear icon then Save.", id="an image inside a sentence reads as its alt text"),
    pytest.param('<h2><img src="/i/warn.svg" alt="Warning icon"> Before you start</h2><p>Back up first.</p>',
                 "Before you start\n\nBack up first.", id="an icon in a heading is not read"),
    pytest.param("<table><tr><th>Field</th><th>Value</th></tr><tr><td>Email</td><td>user.email<br>(required)</td></tr></table>",
                 "Field | Value\nEmail | user.email (required)", id="a br in a cell keeps the row on one line"),
    pytest.param("<table><tr><th>Plan</th><th>Includes</th></tr><tr><td>Pro</td><td><ul><li>SSO</li><li>Audit log</li>"
                 "</ul></td></tr><tr><td>Team</td><td><p>Everything in Basic:</p><ul><li>Projects</li><li>Guests</li></ul></td></tr></table>",
                 "Plan | Includes\nPro | SSO; Audit log\nTeam | Everything in Basic: Projects; Guests",
                 id="a list in a cell keeps its items apart"),
    pytest.param("<table><tr><td><p><b>Note:</b> exports over 1 GB are emailed.</p></td></tr><tr><td>Check spam.</td></tr></table>",
                 "Note: exports over 1 GB are emailed.\n\nCheck spam.", id="a one-column table reads as its blocks"),
    pytest.param('<table><tr><td><img src="/a/e.png" alt="The Export button"></td><td><ol><li>Open Reports.</li>'
                 "<li>Click Export.</li></ol><p>It downloads at once.</p></td></tr></table>",
                 "1. Open Reports.\n2. Click Export.\n\nIt downloads at once.", id="steps laid out in a table read as steps"),
    pytest.param("<table><tr><td>Basic</td><td><p>Projects.</p><p>Guests.</p></td></tr><tr><td>Pro</td><td>SSO.</td></tr></table>",
                 "Basic\n\nProjects.\n\nGuests.\n\nPro\n\nSSO.", id="a cell of paragraphs lays its table out"),
    pytest.param('<p>Exports run nightly.</p><aside class="note"><h4>Warning</h4><p>Deleting a project deletes its '
                 "entries.</p></aside><p>After.</p>",
                 "Exports run nightly.\n\nWarning\n\nDeleting a project deletes its entries.\n\nAfter.",
                 id="a callout aside is read, its title a line of it"),
    pytest.param("<p>Body.</p><aside><ul><li><a href='https://x.example/a'>Invoices</a></li></ul></aside>"
                 "<aside class='article-sidebar'><p>Recently viewed: Invoices</p></aside>",
                 "Body.", id="a sidebar aside (only links, or named so) is chrome"),
    pytest.param('<p>Still stuck? <a href="mailto:help@example.com?subject=SSO">Email us</a> or '
                 '<a href="mailto:help@example.com">help@example.com</a>.</p>',
                 "Still stuck? Email us (help@example.com) or help@example.com.", id="a mailto link keeps its address"),
    pytest.param('<p>See <a href="#limits">Limits</a>, <a href="/hc/en-us/articles/2">Billing</a> and '
                 '<a href="javascript:void(0)">more</a>.</p>',
                 "See Limits, Billing and more.", id="an anchor or a relative link without a base is its label"),
    pytest.param('<head><base href="https://help.example.com/hc/en-us/articles/1-sso"></head>'
                 '<p>See <a href="/hc/en-us/articles/2">Billing</a> and <a href="3-faq">the FAQ</a>.</p>',
                 "See Billing (https://help.example.com/hc/en-us/articles/2) and the FAQ "
                 "(https://help.example.com/hc/en-us/articles/3-faq).", id="relative links resolve against base href"),
    pytest.param('<head><base href="https://help.example.com/hc/en-us/articles/1-sso"></head>'
                 '<h2 id="limits"><a href="/hc/en-us/articles/1-sso#limits">Limits</a></h2><p>See '
                 '<a href="/hc/en-us/articles/1-sso#setup">Setup</a>.</p><h2><a href="https://x.example/p">Plans</a></h2>',
                 "Limits\n\nSee Setup.\n\nPlans", id="a heading's link and a link to the page itself add no URL"),
]


@pytest.mark.parametrize(("html", "text"), HELP_CENTER_HTML)
def test_help_center_html_reads_as_written(html: str, text: str) -> None:
    assert html_to_text(html) == text


MARKDOWN_AS_WRITTEN = [  # (a Markdown line as admins write it, with the article's url as base, what the reader gets)
    pytest.param("Refunds take 5&nbsp;days &amp; arrive by card &mdash; see the FAQ.",
                 "Refunds take 5 days & arrive by card \u2014 see the FAQ.", id="entities are decoded"),
    pytest.param("3. Confirm.<br>You keep access until the period ends.",
                 "3. Confirm.\nYou keep access until the period ends.", id="a br is a line break"),
    pytest.param("Name it `*_backup_*.csv` or **`report_v2.csv`**, not *report*.",
                 "Name it *_backup_*.csv or report_v2.csv, not report.", id="emphasis marks inside code are code"),
    pytest.param("Press <kbd>Ctrl</kbd>+<kbd>C</kbd> <!-- TODO: screenshot --> then `<br>` and `&amp;` stay code.",
                 "Press Ctrl+C then <br> and &amp; stay code.", id="inline tags and comments go, code stays"),
    pytest.param("See [billing](/hc/en-us/articles/43-billing), [top](#top) or write to <help@example.com>.",
                 "See billing (https://help.example.com/hc/en-us/articles/43-billing), top or write to help@example.com.",
                 id="relative links resolve against the article's url; autolinks lose their brackets"),
    pytest.param("Click ![the gear icon](img/gear.png) then Save.\n\n![Screenshot of the Billing page](img/billing.png)",
                 "Click the gear icon then Save.", id="a screenshot alone is left out, an inline image is its alt"),
    pytest.param('<div class="callout">\n<strong>Note:</strong> cancelled plans<br>stay readable.\n</div>',
                 "Note: cancelled plans\nstay readable.", id="an HTML block goes through the HTML converter"),
    pytest.param("Exports run nightly.\n\n<aside>\n💡 **Note:** an export over 1 GB is emailed.\n\n</aside>",
                 "Exports run nightly.\n\n💡 Note: an export over 1 GB is emailed.", id="a Notion callout aside is read"),
    pytest.param('<table>\n<tr><th>Plan</th><th>Refund</th></tr>\n<tr><td>Annual</td><td>pro rata</td></tr>\n</table>',
                 "Plan | Refund\nAnnual | pro rata", id="an HTML table in Markdown is a table"),
]


@pytest.mark.parametrize(("markdown", "text"), MARKDOWN_AS_WRITTEN)
def test_markdown_reads_as_written(markdown: str, text: str) -> None:
    assert markdown_to_text(markdown, "https://help.example.com/hc/en-us/articles/42-refunds") == text


def test_markdown_reference_links_read_as_links_and_their_definitions_are_not_quoted() -> None:
    article = parse_markdown("""---
title: Connect Xero
url: https://help.example.com/hc/en-us/articles/7-xero
---
## Connect

Follow the [Xero guide][xero] or see [Billing][] and the [FAQ]. Press [Enter] to confirm.

```
[not]: https://inside.code/stays
```

## Links

[xero]: https://central.xero.com/s/article/Connect "Xero Central"
[billing]: /hc/en-us/articles/8-billing
[FAQ]: <https://help.example.com/faq>
""", "xero.md")
    assert [(p.heading_path, p.text) for p in article.passages] == [
        (("Connect",), "Follow the Xero guide (https://central.xero.com/s/article/Connect) or see Billing "
                       "(https://help.example.com/hc/en-us/articles/8-billing) and the FAQ (https://help.example.com/faq). "
                       "Press [Enter] to confirm.\n\n[not]: https://inside.code/stays"),
    ]


def test_a_markdown_heading_with_a_link_or_an_entity_reads_as_its_words() -> None:
    [section] = markdown_sections("## Pay with [Stripe](https://stripe.com) &amp; PayPal\n\nText.\n")
    assert section.heading_path == ("Pay with Stripe & PayPal",)


def test_markdown_footnotes_in_headings_lists_and_code() -> None:
    from interceptor.kb.markdown import inline_footnotes

    markdown = ("## Limits[^per]\n\nUp to 5 exports a day[^none].\n\n- Exports[^csv] run nightly\n- `[^csv]` is code\n\n"
                "```\nx[^csv]\n```\n\n[^per]: Per workspace.\n[^csv]: CSV and PDF.\n[^unused]: Never referred to.\n")
    assert [(s.heading_path, s.text) for s in markdown_sections(inline_footnotes(markdown))] == [
        (("Limits",), "[1] Per workspace.\n\nUp to 5 exports a day[^none].\n\n- Exports[2] run nightly\n- [^csv] is code\n"
                      "[2] CSV and PDF.\n\nx[^csv]"),
    ]
