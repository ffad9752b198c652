"""prefilter.clean and spelling: table tests of what retrieval sees for requests as people write them. Pure."""

from __future__ import annotations

import pytest

from interceptor.retrieval.lexical import BM25, tokenize
from interceptor.coverage import coverage_features, excluded_terms
from interceptor.prefilter import clean
from interceptor.spelling import Speller, english_words

LONG = ("Hello! Hope you're all well. We've been using the app for a couple of years now across three teams and "
        "mostly it's great, the new dashboard is lovely and the team likes the mobile app a lot. Last quarter our "
        "finance lead started asking for the billable hours per client, and until now I copied them by hand into "
        "a spreadsheet every month, which takes ages. Our office moved twice this year, first to the old mill by "
        "the river and then to the new building near the station, and the move went smoothly thanks to the offline "
        "mode of the mobile app, which kept our timers going while the network was down for two days. The new "
        "colleagues picked it up in an afternoon and the onboarding emails were spot on, so thank you for that "
        "as well. My manager is very happy with the weekly summaries too. Anyway. "
        "How do I export a report to CSV? Cheers, Ann")

CASES = [
    # (as written, questions retrieval sees)
    ("i forgot my pasword", ("i forgot my pasword",)),
    ("How do I export a report?", ("How do I export a report?",)),
    ("Hi team,\nI forgot my password, how do I reset it?\nThanks,\nBob\nSent from my iPhone",
     ("I forgot my password, how do I reset it?",)),
    ("Hello, how do I reset my password?", ("how do I reset my password?",)),
    ("Hi Can I export a report?", ("Can I export a report?",)),
    ("Hi good morning, how do I export a report?", ("how do I export a report?",)),
    ("Password reset\nHi team,\nI forgot my password", ("Password reset I forgot my password",)),  # subject, body
    ("Heeyy, what's up?. You know, I need to export a report to CSV, can you help?",
     ("You know, I need to export a report to CSV, can you help?",)),
    ("Hi Maria, can I export a report?", ("can I export a report?",)),
    ("Any help with exporting reports to CSV? Any help would be appreciated.",
     ("Any help with exporting reports to CSV?",)),
    ("Hey Bob - the timer is not syncing to my phone", ("the timer is not syncing to my phone",)),
    ("Dear Support Team,\n\nHow do I add a time entry manually?\n\nKind regards,\nJane Doe\nAcme Ltd",
     ("How do I add a time entry manually?",)),
    ("How do I export a report?\n\n--\nJane Doe | Finance | +44 20 7946 0000", ("How do I export a report?",)),
    ("Still can't export the report, how do I do it?\n\nOn Mon, 2 Nov 2026 at 09:14, Help <help@x.example> wrote:\n"
     "> Please try the Export button.\n> Thanks", ("Still can't export the report, how do I do it?",)),
    ("How do I export a report?\n> quoted line about invoices\nThanks in advance!", ("How do I export a report?",)),
    ("How do I export\na report to CSV\nfor my manager?", ("How do I export a report to CSV for my manager?",)),
    ("How do I export a report? Thanks so much for your help!", ("How do I export a report?",)),
    # word that an earlier answer worked is no ask (a reply in the thread); a story that it once worked is
    ("thanks, that worked! also how do I change my plan?", ("how do I change my plan?",)),
    ("That worked, thanks. How do I export a report?", ("How do I export a report?",)),
    ("Perfect, it works now! Where do I see my invoices?", ("Where do I see my invoices?",)),
    ("It worked yesterday but now the export fails. Why?", ("It worked yesterday but now the export fails. Why?",)),
    # two questions: "?" sentences, "also", "and how ..." inside one sentence, "another question"
    ("how do i reset my password? also how do I invite a teammate?",
     ("how do i reset my password?", "how do I invite a teammate?")),
    ("How do I enable two factor authentication and how do I change my plan?",
     ("How do I enable two factor authentication?", "how do I change my plan?")),
    ("How do I reset my password?\nAnother question: how do I cancel my subscription?",
     ("How do I reset my password?", "how do I cancel my subscription?")),
    # ... an ask that names one thing is an ask of its own
    ("how do I reset my password and also how do I get SPSS?", ("how do I reset my password?", "how do I get SPSS?")),
    ("How do I reset my password? Where is Xero?", ("How do I reset my password?", "Where is Xero?")),
    ("I use SSO. How do I reset my password? And how do I invite teammates?",
     ("I use SSO. How do I reset my password?", "And how do I invite teammates?")),
    # one question in two sentences: a follow-up that points back, an ask that leans on its context
    ("How do I export a report? Can I do it as a PDF too?", ("How do I export a report? Can I do it as a PDF too?",)),
    ("The timer does not sync to my phone. What should I do?",
     ("The timer does not sync to my phone. What should I do?",)),
    ("How do I export and download a report?", ("How do I export and download a report?",)),
    ("What's the deal? My card was declined for a top up. Why is it not going through?",
     ("What's the deal? My card was declined for a top up. Why is it not going through?",)),
    ("How do I export a report? What's going on?", ("How do I export a report? What's going on?",)),
    ("How do I reset my password? What about SSO?", ("How do I reset my password? What about SSO?",)),
    ("My card was declined. Any update?", ("My card was declined. Any update?",)),
    # a long rambling message (over LONG_WORDS) keeps the ask; a shorter one keeps its story as context
    (LONG, ("How do I export a report to CSV?",)),
    ("We moved to the app last spring. Our accountant wants hours per client. How do I export a report?",
     ("We moved to the app last spring. Our accountant wants hours per client. How do I export a report?",)),
    # chat decoration: emoji shortcodes and @-mentions carry no ask; an email address and a time stay
    ("hey team :wave: how do I connect to the VPN from home? @U123 thanks",
     ("how do I connect to the VPN from home?",)),
    (":+1::skin-tone-2: @sam my export is stuck :sob:", ("my export is stuck",)),
    ("hey team \U0001F44B how do I connect to the VPN from home? \U0001F64F\U0001F3FC", ("how do I connect to the VPN from home?",)),
    ("\U0001F44D\U0001F3FB @sam my export is stuck \U0001F62D \u2764\ufe0f \U0001F468\u200d\U0001F4BB", ("my export is stuck",)),
    ("Did bob@x.example get the 10:30: report?", ("Did bob@x.example get the 10:30: report?",)),
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


@pytest.mark.parametrize("text,excluded", [
    ("Can I connect my Outlook calendar instead of Google?", ("google",)),
    ("Can I pay with PayPal rather than a card?", ("card",)),
    ("Is there an alternative to the Slack app?", ("slack",)),
    ("How do I select a Mastercard instead of a Visa?", ("visa",)),
    ("how do I export it instead?", ()),
    ("How do I reset my password?", ()),
])
def test_excluded_terms_are_what_the_request_sets_aside(text: str, excluded: tuple[str, ...]) -> None:
    assert excluded_terms(text) == tuple(term for word in excluded for term in tokenize(word))


def test_coverage_features_say_what_the_kb_and_the_passage_do_not_cover() -> None:
    counts = {"connect": 3, "google": 2, "calendar": 2, "instead": 1, "password": 4, "reset": 4, "event": 1}
    vocabulary = {term: n for word, n in counts.items() for term in tokenize(word)}
    outlook = coverage_features("Can I connect my Outlook calendar instead of Google?", vocabulary,
                                passage="Calendar events refresh every 15 minutes.", title="Connect Google Calendar")
    assert outlook["oov_terms"] == 1.0 and outlook["oov_share"] == pytest.approx(1 / 5)
    assert outlook["excluded_in_title"] == 1.0
    assert 0.0 < outlook["passage_miss_share"] < 0.5  # only "instead" is missing from title and passage
    covered = coverage_features("reset password", vocabulary, passage="Reset your password here.", title="Reset")
    assert covered == {"oov_terms": 0.0, "oov_share": 0.0, "passage_miss_share": 0.0, "excluded_in_title": 0.0}
    elsewhere = coverage_features("reset password", vocabulary, passage="Calendar events.", title="Calendar")
    assert elsewhere["passage_miss_share"] == 1.0
    assert coverage_features("", vocabulary)["oov_terms"] == 0.0


def test_english_words_the_kb_lacks_are_not_typos() -> None:
    speller = Speller({"sort": 3, "password": 5}, english_words())
    assert speller.correct("is sport covered") == ("is sport covered", ())
    assert speller.correct("i forgot my pasword") == ("i forgot my password", (("pasword", "password"),))
    assert Speller({"sort": 3}).correct_word("sport") == "sort"  # what the word list prevents
