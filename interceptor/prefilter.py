"""Prefilter: turn a request as people write it into the question(s) retrieval should see. Pure.

:func:`clean` strips what carries no ask (greetings, thanks and sign-offs, signatures, quoted replies,
emoji shortcodes and @-mentions) and the invisible format characters that split a word unseen
(:func:`core.text.strip_for_matching`), joins hard-wrapped lines, and splits the rest into questions:
sentences ending in "?", clauses joined by "and how ..." / "also ...", sentences opened by "Also," or
"another question". An ask that names one specific thing is an ask of its own ("How do I get SPSS?"); one
that names nothing ("What should I do?") or only points back ("Can I do it as a PDF too?", "What about
SSO?") stays with the question it refers to, and statements before an ask stay with it as its context. A
long rambling message keeps only the sentences that carry the ask. A request longer than anyone asks a
question (:data:`REQUEST_CHARS`) is read in part (:func:`read_part`, before :func:`clean`): it goes to a person.
Spelling is corrected separately (:mod:`interceptor.spelling`), against the KB's own vocabulary.
"""

from __future__ import annotations

import re

from core.text import strip_for_matching
from interceptor.retrieval.lexical import tokenize
from interceptor.types import Request

# A message longer than this keeps only its asks and the statements that carry a need: the dense model reads
# 256 word pieces (about 180 words), so the ask at the end of a long story would not be read at all.
# Shorter messages keep every statement (measured on banking77: the story around an ask helps retrieval).
LONG_WORDS = 150
MIN_CONTENT = 1  # an ask with no specific word leans on its neighbour ("What should I do?"); one is enough ("How do I get SPSS?")
_I, _M = re.IGNORECASE, re.MULTILINE

# Everything from one of these lines on is not the requester's new text.
_CUT = re.compile(
    r"^(?:>?[^\S\n]*On\b[^\n]{0,200}(?:\n[^\n]{0,200})?\bwrote:\s*$"  # On Mon, 2 Nov 2026, Bob <b@x> wrote:
    r"|-{2,}\s*(?:Original|Forwarded) Message\s*-{2,}"
    r"|From:\s[^\n]*\n(?:Sent|Date|To):\s"  # an Outlook reply header
    r"|--\s*$"  # the signature delimiter
    r"|(?:Sent from|Get Outlook for)\s[^\n]{0,40}$)",
    _I | _M,
)
_SIGN_OFF = re.compile(
    r"^\s*(?:thanks|thank you|thanks a lot|thanks in advance|many thanks|thx|ty|cheers|regards|best|"
    r"best regards|kind regards|warm regards|all the best|sincerely|yours|br|ta)\b[\s,.!-]*\S{0,40}\s*$",
    _I,
)
# Capitalised words that start a request rather than name the person greeted ("Hi Can I ...").
_STARTERS = (r"(?:Can|Could|How|What|Where|When|Why|Which|Who|Is|Are|Do|Does|Did|My|We|Our|Please|The|Will|Would|"
             r"Should|Any|Just|Quick|Since|After|Today|Yesterday|Im|Ive|Its|There|This|That|Your|You)")
_GREETING = re.compile(
    r"^\s*(?i:hi+|hel+o+|he+y+|hiya|dear|greetings|good (?:morning|afternoon|evening|day)|yo)"
    r"(?:\s+(?i:there|team|all|everyone|folks|guys|support(?: team)?|help ?desk)|\s+(?!" + _STARTERS + r"\b)[A-Z][a-z]+){0,2}"
    r"(?:\s*[,.!:;\u2014-]+\s*|\s*\n|\s*$|\s+(?=\S))"
)
_PLEASANTRY = re.compile(
    r"^(?:(?:ok(?:ay)?|so|well|and)[,\s]+)?(?:"
    r"(?:many |big )?thanks?(?: you)?(?: (?:so|very) much| a lot| a bunch| again| all| in advance)*"
    r"(?: for (?:your|the|any) (?:help|time|support|assistance))?(?: in advance)?"
    r"|(?:thx|ty|cheers|regards|best|kind regards|best regards|warm regards|sincerely)"
    r"|(?:i )?hope (?:you(?:'re| are)|this finds you|all is|everyone is|you all are)\b.*"
    r"|any (?:help|advice|pointers)(?: (?:would be|is|will be) (?:much |greatly |really |very )?appreciated)"
    r"|(?:i(?:'d| would) )?(?:really |greatly )?appreciate (?:any|your|the) (?:help|advice|assistance)"
    r"|(?:have a )?(?:nice|great|good) (?:day|weekend|one)"
    r"|(?:hi+|hel+o+|he+y+)(?: there| team| all| everyone)?"
    # word that an earlier answer worked ("thanks, that worked!", "Perfect, it works now"): a reply's, no ask
    r"|(?:(?:(?:many )?thanks?(?: you)?|great|perfect|awesome|cool|nice|brilliant|excellent)[\s,!.]+)*"
    r"(?:(?:that|it|this) )?(?:(?:has |have )?worked|works(?: now| fine| great)?|fixed (?:it|the problem)|did the trick"
    r"|solved (?:it|the problem))(?: for me)?(?:[\s,!]+thanks?(?: you)?(?: (?:so|very) much)?)?"
    r"|what'?s up|how are you(?: doing)?(?: today)?|how'?s it going|good (?:morning|afternoon|evening|day)"
    r")(?:[\s,]+[A-Z][a-z]+)?[\s.!?,:;)]*$",
    _I,
)
# Chat decoration that carries no ask: emoji, as shortcodes (":wave:", ":+1::skin-tone-2:") or as themselves (Slack's
# shortcodes reach the hub as the emoji: connectors/slack/mrkdwn.py; the pictographs' blocks, with their skin tones,
# presentation selector and joiners), and @-mentions of people ("@U123", "@sam": what a Slack or Jira mention reads
# as), which retrieval would read as words.
_PICTOGRAPH = "\u231a-\u23ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"
_DECORATION = re.compile(r"(?<![\w:])(?::(?:[+-]1|(?=[0-9_+'-]*[a-z])[a-z0-9_+'-]+):)+(?![\w:])|(?<![\w.@])@\w[\w.-]*"
                         rf"|[{_PICTOGRAPH}](?:[\ufe0f\u200d{_PICTOGRAPH}])*")
_NEW_ASK = re.compile(r"^(?:also|plus|and another thing|another (?:question|thing)|one more thing|separately|"
                      r"on (?:a |an )?(?:other|another|different|separate) (?:note|topic)|secondly|second(?:ly)?|p\.?s\.?)\b"
                      r"[\s,:;-]*", _I)
# "How do I enable 2FA and how do I change my plan?": a second ask joined inside one sentence.
_JOIN = re.compile(r"[,;]?\s+(?:and|also|plus|,)\s+(?:also\s+)?(?=(?:how|what|where|when|why|which|who|can|could|"
                   r"is|are|do|does|will|would|should)\b)", _I)
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+|(?<=\?)(?=\S)")
_ANAPHOR = re.compile(r"\b(?:it|that|this|them|those|these|one|same|too|either)\b|^(?:and\s+)?(?:what|how)\s+about\b", _I)
_NEEDS = re.compile(r"\b(?:can ?not|can'?t|cannot|unable|won'?t|does ?n'?t|is ?n'?t|"
                    r"did ?n'?t|has ?n'?t|have ?n'?t|not|never|no longer|still|wrong|error|fail\w*|pending|declin\w*|"
                    r"charged|need|want|would like|'d like|tr(?:y|ied|ying) to|help|please|problem|issue|broken|"
                    r"missing|stuck|forgot)\b", _I)
_CONTRACTION = re.compile(r"\b\w+['\u2019]\w+\b")
# Words that say there is a question but not what it is about ("What's going on here?").
_GENERIC = frozenset(tokenize("going go happen happening happened wrong something anything thing things problem issue "
                              "please help check know want need get got work working works possible way sure really "
                              "just also able let tell doing done fine okay ok suppose supposed here now today "
                              "deal matter status update news idea story"))


def _strip_tail(text: str) -> str:
    """Cut quoted replies, signatures and the sign-off block; drop quoted (``>``) lines."""
    match = _CUT.search(text)
    if match:
        text = text[: match.start()]
    lines = [line for line in text.split("\n") if not line.lstrip().startswith(">")]
    # A sign-off line near the end, followed only by a few short lines (a name, a title, a company).
    for n in range(max(len(lines) - 5, 0), len(lines)):
        rest = [line for line in lines[n + 1:] if line.strip()]
        if _SIGN_OFF.match(lines[n]) and len(rest) <= 3 and all(len(line.strip()) <= 40 and "?" not in line for line in rest):
            lines = lines[:n]
            break
    return "\n".join(lines)


def _paragraphs(text: str) -> list[str]:
    """Join hard-wrapped lines into paragraphs (a blank line or a list item starts a new one)."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for line in block.split("\n"):
            line = line.strip()
            if re.match(r"^(?:[-*\u2022]|\d+[.)])\s", line) and current:
                out.append(" ".join(current))
                current = []
            if line:
                current.append(line)
        if current:
            out.append(" ".join(current))
    return out


def _sentences(paragraph: str) -> list[str]:
    parts = (s.strip().lstrip(".,;:!? ").strip() for s in _SENTENCE.split(paragraph) if s)
    return [s for s in parts if s]


def content_words(text: str) -> int:
    """Return how many specific content words ``text`` has (index terms that are not stop words, contractions
    or words any request could hold, such as "going", "wrong", "help")."""
    return sum(1 for t in tokenize(_CONTRACTION.sub(" ", text)) if t not in _GENERIC)


def _split_joined(sentence: str) -> list[str]:
    """Split "how do I X and how do I Y?" into its asks when each side has content of its own."""
    if not sentence.endswith("?"):
        return [sentence]
    parts = [p.strip() for p in _JOIN.split(sentence) if p.strip()]
    if len(parts) > 1 and all(content_words(p) >= MIN_CONTENT for p in parts):
        return [p if p.endswith("?") else p + "?" for p in parts]
    return [sentence]


def _leans_back(ask: str) -> bool:
    """Whether an ask only makes sense with the previous one ("What should I do?", "Can I do it as PDF too?")."""
    words = content_words(_NEW_ASK.sub("", ask))
    return words < MIN_CONTENT or (words <= 3 and bool(_ANAPHOR.search(ask)) and not _NEW_ASK.match(ask))


def _group(sentences: list[str], long: bool) -> list[str]:
    """Group sentences into questions: each ask with the statements before it (its context)."""
    groups: list[list[str]] = []
    context: list[str] = []
    for sentence in sentences:
        for part in _split_joined(sentence):
            opens = bool(_NEW_ASK.match(part))
            if not (part.endswith("?") or opens):
                context.append(part)
                continue
            if opens and context and content_words(" ".join(context)) >= MIN_CONTENT:
                groups.append(context)  # "I forgot my password. Also, ...": the statement was an ask too
                context = []
            if groups and not context and _leans_back(part):
                groups[-1].append(part)
                continue
            if long:  # a rambling message keeps the statements that carry a need, not the story around them
                context = [c for c in context if _NEEDS.search(c)]
            groups.append(context + [_NEW_ASK.sub("", part) or part])
            context = []
    if not groups:
        if long:
            needs = [c for c in context if _NEEDS.search(c)]
            context = needs or context
        return [" ".join(context)] if context else []
    if context and not long:
        groups[-1].extend(context)
    elif context:
        groups[-1].extend(c for c in context if _NEEDS.search(c))
    return _merge_vague([" ".join(g) for g in groups])


def _merge_vague(questions: list[str]) -> list[str]:
    """Join a question with no specific words ("What's the deal?") to the next one (the last to the one
    before): it says there is a problem, its neighbour says which."""
    out: list[str] = []
    pending = ""
    for question in questions:
        question = f"{pending} {question}".strip()
        pending = ""
        if content_words(question) < MIN_CONTENT:
            pending = question
        else:
            out.append(question)
    if pending:
        if out:
            out[-1] = f"{out[-1]} {pending}"
        else:
            out.append(pending)
    return out


# The most of a request the hub reads. A help desk takes a ticket of megabytes (a pasted log, an e-mail thread
# forwarded whole), and every stage (the guards, spelling, retrieval, second stage) reads its whole text: 5 MB took
# 9 to 20 s of a worker's time, depending on the machine, 4 s of it the guards' patterns alone; 20,000 characters
# take under 0.1 s. That is some 3,000 words, room for a rambling message with a log pasted in. A longer request
# is read on its start (where the question usually is) and its end (a question asked under a pasted log, or the
# requester's later replies: "I need a person"), and goes to a person (``too_long``): the guards did not read
# its middle, where a refund or a legal threat may be. The ticket stored and the transcript agents get are not
# cut here (they keep to their own limits: interceptor.act.TRANSCRIPT_CHARS).
REQUEST_CHARS = 20_000
REQUEST_END_CHARS = 5_000  # of REQUEST_CHARS, the end's share


def read_part(text: str, limit: int = REQUEST_CHARS, end: int = REQUEST_END_CHARS) -> str:
    """``text`` when it has at most ``limit`` characters; else its start and its last ``end`` characters, each
    cut where a word ends (a single word longer than its share is cut in it), with a blank line between them so
    that neither half runs into the other's sentence.

    Returns:
        At most ``limit`` characters of ``text``.
    """
    if len(text) <= limit:
        return text
    head, tail = text[: limit - end - 2], text[-end:]
    if not text[len(head)].isspace() and len(words := head.rsplit(None, 1)) == 2:
        head = words[0]  # the last word was cut
    if not text[-end - 1].isspace() and len(words := tail.split(None, 1)) == 2:
        tail = words[1]  # the first word was cut
    return f"{head.rstrip()}\n\n{tail.lstrip()}"


def clean(text: str) -> Request:
    """Return the request's text without pleasantries, and the questions it asks.

    Args:
        text: the request as written (subject and body, an email with its quoted reply, a chat message).

    Returns:
        The :class:`~interceptor.types.Request`: ``original`` unchanged (for the records), ``text`` the
        cleaned message, ``questions`` what retrieval should see (one or more; the whitespace-normalised
        original when nothing is left after cleaning, e.g. a message that only says "hello").
    """
    body = _strip_tail(_DECORATION.sub("", strip_for_matching(text)).replace("\r\n", "\n").replace("\r", "\n"))
    lines = body.split("\n")
    for n in range(min(len(lines), 3)):  # a ticket's subject line, then "Hi team," on the next
        for _ in range(3):  # "Hello, good morning. ..."
            lines[n] = _GREETING.sub("", lines[n], count=1)
    body = "\n".join(lines)
    sentences: list[str] = []
    for paragraph in _paragraphs(body):
        sentences += [s for s in _sentences(paragraph) if not _PLEASANTRY.match(s)]
    cleaned = " ".join(sentences)
    if not cleaned.strip():
        fallback = " ".join(strip_for_matching(text).split())
        return Request(original=text, text=fallback, questions=(fallback,) if fallback else ())
    long = len(cleaned.split()) > LONG_WORDS
    questions = tuple(q for q in _group(sentences, long) if q.strip()) or (cleaned,)
    return Request(original=text, text=cleaned, questions=questions)
