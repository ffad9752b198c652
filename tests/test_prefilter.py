"""prefilter.clean and spelling: table tests of what retrieval sees for requests as people write them. Pure."""

from __future__ import annotations

import pytest

from interceptor.retrieval.lexical import BM25
from interceptor.prefilter import clean
from interceptor.spelling import Speller

LONG = ("Hello! Hope you're all well. We've been using the app for a couple of years now across three teams and "
        "mostly it's great, the new dashboard is lovely and the team likes the mobile app a lot. Last quarter our "
        "finance lead started asking for the billable hours per client, and until now I copied them by hand into "
        "a spreadsheet every month, which takes ages. Anyway. How do I export a report to CSV? Cheers, Ann")

CASES = [
    # (as written, questions retrieval sees)
    ("i forgot my pasword", ("i forgot my pasword",)),
    ("How do I export a report?", ("How do I export a report?",)),
    ("Hi team,\nI forgot my password, how do I reset it?\nThanks,\nBob\nSent from my iPhone",
     ("I forgot my password, how do I reset it?",)),
    ("Hello, how do I reset my password?", ("how do I reset my password?",)),
    ("Hey Bob - the timer is not syncing to my phone", ("the timer is not syncing to my phone",)),
    ("Dear Support Team,\n\nHow do I add a time entry manually?\n\nKind regards,\nJane Doe\nAcme Ltd",
     ("How do I add a time entry manually?",)),
    ("How do I export a report?\n\n--\nJane Doe | Finance | +44 20 7946 0000", ("How do I export a report?",)),
    ("Still can't export the report, how do I do it?\n\nOn Mon, 2 Nov 2026 at 09:14, Help <help@x.example> wrote:\n"
     "> Please try the Export button.\n> Thanks", ("Still can't export the report, how do I do it?",)),
    ("How do I export a report?\n> quoted line about invoices\nThanks in advance!", ("How do I export a report?",)),
    ("How do I export\na report to CSV\nfor my manager?", ("How do I export a report to CSV for my manager?",)),
    ("How do I export a report? Thanks so much for your help!", ("How do I export a report?",)),
    # two questions: "?" sentences, "also", "and how ..." inside one sentence, "another question"
    ("how do i reset my password? also how do I invite a teammate?",
     ("how do i reset my password?", "how do I invite a teammate?")),
    ("How do I enable two factor authentication and how do I change my plan?",
     ("How do I enable two factor authentication?", "how do I change my plan?")),
    ("How do I reset my password?\nAnother question: how do I cancel my subscription?",
     ("How do I reset my password?", "how do I cancel my subscription?")),
    ("I use SSO. How do I reset my password? And how do I invite teammates?",
     ("I use SSO. How do I reset my password?", "And how do I invite teammates?")),
    # one question in two sentences: a follow-up that points back, an ask that leans on its context
    ("How do I export a report? Can I do it as a PDF too?", ("How do I export a report? Can I do it as a PDF too?",)),
    ("The timer does not sync to my phone. What should I do?",
     ("The timer does not sync to my phone. What should I do?",)),
    ("How do I export and download a report?", ("How do I export and download a report?",)),
    # a long rambling message keeps the ask
    (LONG, ("How do I export a report to CSV?",)),
    # nothing but pleasantries: the request as written (retrieval finds nothing, the hub lets it through)
    ("hello", ("hello",)),
    ("Thanks!", ("Thanks!",)),
]


@pytest.mark.parametrize("text,questions", CASES)
def test_clean_finds_the_questions(text: str, questions: tuple[str, ...]) -> None:
    request = clean(text)
    assert request.questions == questions
    assert request.original == text


def test_cleaned_text_drops_greeting_signature_and_quote_but_keeps_the_original() -> None:
    text = "Hi team,\nI forgot my password.\nThanks,\nBob\n\nOn Tue, Bob <b@x.example> wrote:\n> old text"
    request = clean(text)
    assert request.text == "I forgot my password."
    assert request.original == text


def test_empty_text_has_no_question() -> None:
    assert clean("   ").questions == ()


VOCABULARY = BM25([
    "Reset your password. Open Settings and choose Reset password.",
    "Change your email address in your profile settings.",
    "Invoices: send an invoice to a client. Invoices are emailed.",
    "Set up two-factor authentication with an authenticator app.",
    "The timer keeps running when you close the app.",
]).vocabulary()

SPELLING = [
    # (as written, corrected, corrections)
    ("i forgot my pasword", "i forgot my password", (("pasword", "password"),)),
    ("how do i chnage my emial adress", "how do i change my email address",
     (("chnage", "change"), ("emial", "email"), ("adress", "address"))),
    ("my invoises are not sent", "my invoices are not sent", (("invoises", "invoices"),)),
    ("two factor authentification", "two factor authentication", (("authentification", "authentication"),)),
    ("the timmer stops", "the timer stops", (("timmer", "timer"),)),
    # left alone: known words, stop words, short words, words with nothing near them, numbers
    ("Reset my password", "Reset my password", ()),
    ("Can I connect my Outlook calendar?", "Can I connect my Outlook calendar?", ()),
    ("tmie", "tmie", ()),
    ("my invoice was sent", "my invoice was sent", ()),
    ("error 4O4 on pasw0rd", "error 4O4 on pasw0rd", ()),
]


@pytest.mark.parametrize("text,corrected,fixes", SPELLING)
def test_spelling_is_corrected_against_the_kb_vocabulary(text: str, corrected: str,
                                                         fixes: tuple[tuple[str, str], ...]) -> None:
    assert Speller(VOCABULARY).correct(text) == (corrected, fixes)


def test_a_tie_goes_to_the_more_frequent_term() -> None:
    assert Speller({"bread": 9, "broad": 1}).correct_word("braad") == "bread"
    assert Speller({"bread": 1, "broad": 9}).correct_word("braad") == "broad"
