"""An article made of a title and the requests it answered (an intent, as in BANKING77 or CLINC150: no text of its
own) quotes its title; one with nothing under its title and no such requests (a Help Center article of screenshots
only) quotes nothing, so that no answer is its title alone."""

from __future__ import annotations

from core.kb import KBArticle
from interceptor.retrieval.index import KBIndex

CARD = KBArticle(1, "pack", "card_arrival", "Card arrival", None, (), (),
                 ("when will my new card arrive", "my card has not come in the post yet"))
EMPTY = KBArticle(2, "zendesk", "scanner", "Scanner setup", None, (), (), ())


def test_an_intent_quotes_its_title_and_an_empty_article_nothing() -> None:
    index = KBIndex([CARD, EMPTY], None)
    card = index.search("my new card has still not arrived")
    assert index.articles[card.order[0]].external_id == "card_arrival" and card.passage[0] == "Card arrival"
    scanner = index.search("scanner setup")
    assert index.articles[scanner.order[0]].external_id == "scanner" and scanner.passage[0] == ""
