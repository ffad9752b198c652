"""The guard's text signals: sensitive topics, requests for a person, frustration, follow-up replies."""

from __future__ import annotations

import pytest

from interceptor.decide import classify_followup
from interceptor.guard import asks_for_human, confirms_answer, is_frustrated, sensitive_topics

TOPICS = ("refund", "account_access", "legal", "security_incident")


@pytest.mark.parametrize("text,expected", [
    ("Can I get a refund for last month?", ("refund",)),
    ("I was double charged on my card", ("refund",)),
    ("How do I get my money back?", ("refund",)),
    ("I want to dispute the charge", ("refund",)),
    ("My account was hacked", ("account_access",)),
    ("Someone took over my account and changed my email", ("account_access",)),
    ("I need access to my former colleague's mailbox", ("account_access",)),
    ("How do we transfer account ownership to a new admin?", ("account_access",)),
    ("Our attorney will be in touch", ("legal",)),
    ("We received a subpoena", ("legal",)),
    ("Please handle this GDPR data subject access request", ("legal",)),
    ("I want to report a security vulnerability", ("security_incident",)),
    ("Our API keys were leaked on GitHub", ("security_incident",)),
    ("There was suspicious login activity from abroad", ("security_incident",)),
    ("Got a phishing email pretending to be you", ("security_incident",)),
    ("I think we've been hacked", ("security_incident",)),
    ("Our server was hacked last night", ("security_incident",)),
    ("Our admin left the company and nobody can manage billing", ("account_access",)),
    ("I'm locked out, how do I reset my password?", ()),
    ("How do I change my account email address?", ()),
    ("How do I export a report to CSV?", ()),
    ("Where do I find the legal entity name on invoices?", ()),
    ("The sue-doku widget is broken", ()),
    ("Sue from accounting asked about exports", ()),
    ("We will sue you over this outage", ("legal",)),
])
def test_sensitive_topics(text: str, expected: tuple[str, ...]) -> None:
    assert sensitive_topics(text, TOPICS) == expected


def test_unknown_topic_names_are_literal_keywords_with_flexible_separators() -> None:
    assert sensitive_topics("Question about Price Changes", ("price_change",)) == ("price_change",)
    assert sensitive_topics("a price-change notice", ("price change",)) == ("price change",)
    assert sensitive_topics("the priceless change", ("price_change",)) == ()
    assert sensitive_topics("anything", ("", "  ")) == ()


@pytest.mark.parametrize("text,expected", [
    ("Can I talk to a human?", True),
    ("I want to speak with a real person please", True),
    ("connect me to an agent", True),
    ("agent", True),
    ("Please escalate this", True),
    ("I still need a human", True),
    ("How do I add a human-readable label to a field?", False),
    ("Can I speak to someone about my bill?", True),
    ("I need a human to look at this", True),
    ("Stop the bot.", True),
    ("could you escalate this to a manager", True),
    ("How do I give a person admin rights?", False),
    ("How do I get an agent license?", False),
    ("How can customers chat with an agent in the widget?", False),
    ("How do I set up escalation rules?", False),
    ("How do I escalate this ticket to tier 2 in Jira?", False),
    ("How do I enable live agent chat?", False),
    ("Is the bot not answering in private channels?", False),
    ("How do I assign a ticket to an agent?", False),
    ("How do I reset my password?", False),
])
def test_asks_for_human(text: str, expected: bool) -> None:
    assert asks_for_human(text) is expected


@pytest.mark.parametrize("text,expected", [
    ("This is ridiculous, nothing works", True),
    ("I'm so frustrated with this app", True),
    ("asking for the third time: where is my export", True),
    ("Nobody has answered my ticket", True),
    ("I have been waiting for days", True),
    ("Why is this broken!!!", True),
    ("WHY DOES THE EXPORT NEVER WORK FOR ME", True),
    ("How do I export to PDF? Thanks!", False),
    ("The VPN client shows error 809", False),
    ("Is SSO supported for SAML?", False),
])
def test_is_frustrated(text: str, expected: bool) -> None:
    assert is_frustrated(text) is expected


@pytest.mark.parametrize("text,expected", [
    ("thanks, that fixed it", "solved"),
    ("Thank you!", "solved"),
    ("yes", "solved"),
    ("Perfect, thanks", "solved"),
    ("It works now", "solved"),
    ("that solved my problem, cheers", "solved"),
    ("that didn't help", "not_solved"),
    ("This did not work", "not_solved"),
    ("No", "not_solved"),
    ("nope.", "not_solved"),
    ("still getting the same error", "not_solved"),
    ("thanks but it doesn't work", "not_solved"),
    ("not what I asked", "not_solved"),
    ("This solved it", "solved"),  # the answer's feedback line asks for the words of the Slack buttons
    ("I still need help", "not_solved"),
    ("i still need some help with this", "not_solved"),
    ("can I talk to a person", "human"),
    ("that didn't help, I need a human", "human"),
    ("thanks, I'll try that later", None),
    ("thanks, but how do I also export it?", "new_ask"),  # the hub answers a thread once: a person answers this
    ("ok", None),
    ("got it, cheers", None),
    ("What about the mobile app?", "new_ask"),
    ("I get error 403 when I click the link", "new_ask"),
    ("I can't find that menu", "new_ask"),
    ("will try later, I can't right now", None),  # a plan to try it
    ("", None),
    ("   ", None),
])
def test_classify_followup(text: str, expected: str | None) -> None:
    assert classify_followup(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("thanks, that worked! also how do I export a report?", True),
    ("Solved, thanks. Quick question though: is it free?", True),
    ("That fixed it.\nWhere are invoices kept?", True),
    ("Thanks! Where is the billing page?", False),  # manners before a question, no word that it worked
    ("did that fix it?", False),
    ("it works now?", False),
    ("that worked but now I get error 500", False),
    ("What about the mobile app?", False),
    ("", False),
])
def test_confirms_answer(text: str, expected: bool) -> None:
    assert confirms_answer(text) is expected
