"""Text signals a decision must respect: sensitive topics, requests for a human, frustration, and the
requester's follow-up after an answer.

Pure functions of a text. Patterns are deliberately phrase-level: "refund" alone is a sensitive topic, but
"locked out, how do I reset my password?" is a knowledge-base question, not an account-access dispute.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

Followup = Literal["solved", "not_solved", "human", "new_ask"]

_F = re.IGNORECASE

# Topic name (Settings.sensitive_topics) -> patterns. An unknown name is matched as a literal keyword.
TOPIC_PATTERNS: dict[str, tuple[str, ...]] = {
    "refund": (
        r"\brefund(s|ed|ing|able)?\b",
        r"\bmoney back\b",
        r"\bcharge ?backs?\b",
        r"\breimburse(d|ment)?\b",
        r"\b(double|twice|wrongly|incorrectly|over) ?charged\b",
        r"\bcharged (me )?(twice|two times|double)\b",
        r"\bdispute (a|the|this|my) (charge|payment|invoice)\b",
        r"\b(cancel|reverse) (the |my |this )?(payment|charge|transaction)\b",
    ),
    "account_access": (
        r"\b(account|profile|login)s? (was |were |has been |got |is )?(hacked|compromised|hijacked|stolen|taken over)\b",
        r"\b(hacked|compromised|hijacked|stolen) (my |our |the )?(account|login|profile)\b",
        r"\bsomeone (else )?(has |took |is using |logged into |changed )(over )?(my|our) (account|email|password|login)\b",
        r"\b(access to|into) (someone else'?s?|another (user|person)'?s?|(my |a |our )?(former|ex|departed|previous) "
        r"(colleague|employee|coworker|co-worker|admin|owner)'?s?) (account|mailbox|email|data)\b",
        r"\b(transfer|change|claim|dispute) (of )?(the |our |my )?(account )?ownership\b",
        r"\bownership (of|over) (the|our|this|my) (account|workspace|organi[sz]ation|org)\b",
        r"\b(prove|verify) (that )?(i|we) own (the|this|my|our) account\b",
        r"\b(the |our |account )*(owner|admin|administrator) (has |have )?(left|quit|departed)( the company)?\b",
        r"\bsomeone (else )?(is )?(logged|signed) in(to)? (as|to) (my|our) account\b",
    ),
    "legal": (
        r"\b(lawyer|attorney|solicitor|barrister)s?\b",
        r"\b(law ?suit|litigation|subpoena|court order|cease and desist)s?\b",
        r"\blegal (action|team|department|counsel|notice|proceedings?|request|hold)\b",
        r"\b(sue|suing) (you|your|the company|them|us)\b",
        r"\b(going to|gonna|will|threaten\w* to|plan(ning)? to|could) sue\b",
        r"\b(gdpr|ccpa|dsar)\b",
        r"\bdata subject (access )?request\b",
        r"\bright to (be forgotten|erasure)\b",
    ),
    "security_incident": (
        r"\bsecurity (incident|breach|issue|vulnerability|hole|problem|flaw)\b",
        r"\b(data|security) breach\b",
        r"\bbreached\b",
        r"\b(phishing|malware|ransomware|spyware|keylogger)\b",
        r"\bvulnerabilit(y|ies)\b",
        r"\bcve-\d{4}-\d+\b",
        r"\b(exploit|exploited|zero[- ]day)\b",
        r"\b(leaked|exposed) (credentials|passwords?|api keys?|tokens?|secrets?|customer data|data)\b",
        r"\b(credentials|passwords?|api keys?|tokens?) (were |was |got |have been |has been )?(leaked|exposed|compromised)\b",
        r"\bsuspicious (login|sign[- ]?in|activity|access)\b",
        r"\b(we|i|our (site|server|servers|system|systems|network|company|database))"
        r"('ve| have| has| got| were| was| are)?( just)?( been)? hacked\b",
        r"\b(ddos|denial of service) attack\b",
        r"\bunauthori[sz]ed (access|login|sign[- ]?in|charges?|activity|use)\b",
    ),
}

# "a person", "a real human", "someone" ... followed by an end of request, not by more of a product question
# ("give a person admin rights", "chat with an agent in the widget" are how-to questions, not requests).
_PERSON = (r"(a |an |some |the )?(real |live |actual )?(human( being)?|person|people|agent|someone|somebody|"
           r"representative|rep|operator|manager|supervisor|support (agent|team|staff))")
_END = (r"(?=\s*([.!?,;:)]|$|please|now|asap|instead|right away|here|who|about|regarding|on (this|the phone)"
        r"|to (help|talk|look|call|check|review|contact)))")
_HUMAN = (
    r"\b(talk|speak|chat) (to|with) " + _PERSON + _END,
    r"\b(need|want|get|give|connect|transfer|put|pass|send|forward) (me |this |us |it )?(to |with |through to |"
    r"over to )?" + _PERSON + _END,
    r"\b(human|agent|person) please\b",
    r"\b(not|no more|stop|enough with) (talking to |the |a |an |this )?(bot|robot|machine|automated (answers?|replies))"
    r"\s*(please)?\s*([.!?]|$)",
    r"\b(please escalate|(can|could|would) you escalate)\b",
    r"\bescalate (this|it|me)( to (a |an )?(human|person|agent|someone|support|manager))?\s*(please|now|asap)?\s*[.!]*$",
    r"\bstill need (a |an )?(human|person|agent|help from (a|an) (human|person))\b",
    r"^\s*(human|agent|operator|representative)[.! ]*$",
)

_FRUSTRATION = (
    r"\b(ridiculous|unacceptable|absurd|pathetic|outrageous|disgraceful|infuriating|useless|worthless)\b",
    r"\b(frustrat(ed|ing)|furious|fed up|sick (and tired )?of|pissed|livid|exasperated)\b",
    r"\b(wtf|ffs|fuck\w*|shit\w*|bullshit|crap|damn)\b",
    r"\b(worst|terrible|horrible|awful) (service|support|experience|product|company)\b",
    r"\bfor the (third|fourth|fifth|\d+(rd|th)|(n|umpteen)th) time\b",
    r"\b(again and again|over and over|(yet )?again!)",
    r"\b(no ?one|nobody) (has |is |ever )?(answer|repl|respond|help|got back)\w*\b",
    r"\b(been waiting|waited) (for )?(days|weeks|hours|ages|forever|so long)\b",
    r"!{3,}",
)

_NOT_SOLVED = (
    r"\b(did ?n[o']?t|does ?n[o']?t|do ?n[o']?t|did not|does not|has ?n[o']?t|has not) (really |actually )?"
    r"(help|work|fix|solve|resolve|answer)\b",
    r"\bnot (helpful|useful|relevant|working|solved|fixed|resolved|it|what i (asked|need|meant)|my (question|problem|issue))\b",
    r"\b(still|same) (broken|not|does ?n[o']?t|ca ?n[o']?t|cannot|having|getting|failing|fails|the same|issue|problem|error)\b",
    r"\bwrong (article|answer|link)\b",
    r"\bstill need (some |more |your )?help\b",  # the "I still need help" button's words, replied in text
    r"\bno luck\b",
    r"\b(unhelpful|unsolved|irrelevant)\b",
    r"^\s*(no|nope|nah|no,? (it )?did ?n[o']?t)\s*[.!]*\s*$",
)

_WORKED = (  # words that say the answer worked
    r"\b(that|this|it|which|you) (has |have )?(fixed|solved|resolved|sorted|answered|did) (it|the (issue|problem)|my (issue|problem|question))\b",
    r"\b(that|this|it) (fixed|solved|resolved|sorted|worked|helped|did the trick)\b",
    r"\b(it|everything|all) (works|is working|working) (now|again|fine)\b",
    r"\b(works|working) now\b",
    r"\b(problem|issue|question) (is )?(solved|resolved|fixed|sorted)\b",
    r"\b(all sorted|all good now|that did it|that was it|that's it,? thanks)\b",
    r"^\s*(yes|yep|yeah|yup|solved|resolved|fixed|perfect|great|awesome)[,.! ]*(thanks?( you)?( so much)?|thx|ty)?[.! ]*$",
)
# ... and a reply that is nothing but thanks, which after an answer says the same (before a question, it is manners)
_SOLVED = _WORKED + (
    r"^\s*(great|perfect|awesome|cool|ok|okay|brilliant)?[,.! ]*(many )?(thanks?|thank you|thx|ty|cheers)( (so|very) much| a lot| a bunch)?[.!]*$",
)
# A thank-you that goes on with a question or a plan is not a confirmation.
_LATER = r"\b(will try|i'?ll (try|check|look|test)|let me (try|check)|later)\b"
_HEDGE = r"\?|\b(but|however)\b|" + _LATER
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")  # where a reply's sentences end (confirms_answer)
# A reply that asks something or reports a problem needs an answer the thread has not had yet.
_PROBLEM = (r"\b(ca ?n[o']?t|cannot|unable|wo ?n[o']?t|do(es)? ?n[o']?t|did ?n[o']?t|is ?n[o']?t|are ?n[o']?t|"
            r"error|fail\w*|broken|stuck|missing|wrong)\b")


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), _F)


def _topic_patterns(name: str) -> tuple[str, ...]:
    known = TOPIC_PATTERNS.get(name.strip().lower().replace("-", "_").replace(" ", "_"))
    if known is not None:
        return known
    words = [re.escape(w) for w in re.split(r"[\s_\-]+", name.strip()) if w]
    return (r"\b" + r"[\s_\-]+".join(words) + r"(s|es)?\b",) if words else ()


def sensitive_topics(text: str, topics: tuple[str, ...]) -> tuple[str, ...]:
    """Return the names of the sensitive topics ``text`` touches, in the order of ``topics``.

    Args:
        text: the request's text.
        topics: topic names: the known ones (``refund``, ``account_access``, ``legal``,
            ``security_incident``) map to phrase patterns; any other name is matched as a literal keyword
            or phrase (case-insensitive, on word boundaries, plural allowed; ``_``, ``-`` and spaces are
            interchangeable).

    Returns:
        The matching topic names (empty when none).
    """
    found = []
    for name in topics:
        patterns = _topic_patterns(name)
        if patterns and _compiled(patterns).search(text):
            found.append(name)
    return tuple(found)


def asks_for_human(text: str) -> bool:
    """Return whether ``text`` explicitly asks for a person ("can I talk to a human?")."""
    return bool(_compiled(_HUMAN).search(text))


def is_frustrated(text: str) -> bool:
    """Return whether ``text`` shows clear frustration (insults to the service, swearing, "for the third
    time", "!!!", or a long message shouted in capitals)."""
    if _compiled(_FRUSTRATION).search(text):
        return True
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 20 and sum(c.isupper() for c in letters) / len(letters) > 0.8


def classify_followup(text: str) -> Followup | None:
    """Classify a requester's reply in a thread after the hub answered. Conservative.

    Args:
        text: the reply's text.

    Returns:
        ``"human"`` when it asks for a person, ``"not_solved"`` when it says the answer did not help,
        ``"solved"`` when it clearly confirms the answer worked, ``"new_ask"`` when it asks something ("where
        is that?", "thanks! also, how do I export a report?") or reports a problem without a plan to try the
        answer ("I get error 403 when I click the link"), ``None`` otherwise ("thanks, I'll try that", "ok").
    """
    if not text or not text.strip():
        return None
    if asks_for_human(text):
        return "human"
    if _compiled(_NOT_SOLVED).search(text):
        return "not_solved"
    if _compiled(_SOLVED).search(text) and not re.search(_HEDGE, text, _F):
        return "solved"
    if "?" in text or (re.search(_PROBLEM, text, _F) and not re.search(_LATER, text, _F)):
        return "new_ask"
    return None


def confirms_answer(text: str) -> bool:
    """Return whether one sentence of ``text`` says the answer worked, with no "?", "but" or plan to try it
    later in that sentence: "thanks, that worked! also, how do I export a report?" confirms the answer and
    asks something new (:func:`classify_followup` says ``"new_ask"``); "did that fix it?" and "Thanks! Where
    is the billing page?" confirm nothing."""
    return any(_compiled(_WORKED).search(sentence) and not re.search(_HEDGE, sentence, _F)
               for sentence in _SENTENCES.split(text.strip()))
