"""One verdict per web request, even when two ``POST /api/v1/feedback`` arrive at the same moment.

"Only the first verdict counts": the route checked for an earlier verdict and then wrote its own, so two
concurrent posts (a double click, a retrying client, ``solved`` from one tab and ``not solved`` from another)
both passed the check and both wrote: a request recorded as solved *and* not solved and escalated, with both
callers told ``recorded: true``. The interleaving is forced at the database (a SQLAlchemy hook holds each
transaction at its verdict's INSERT until the other arrives, or 3 s), never by patching the hub's code.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from sqlalchemy import event, select

from app import build_hub, create_app
from config import load_settings
from core.db import OutcomeRow
from interceptor.engine import Interceptor, LazyInterceptor
from tests.conftest import settings_dict
from tests.test_engine import FakeScorer


class MeetAtTheVerdict:
    """Holds each ``INSERT INTO outcomes`` until a second one arrives (or 3 s pass): two transactions that both
    got past the "already rated?" check write together, as they would under load."""

    def __init__(self, engine: Any) -> None:
        self.barrier = threading.Barrier(2, timeout=3)
        event.listen(engine, "before_cursor_execute", self)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTCOMES"):
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                pass


def test_two_concurrent_verdicts_on_one_web_answer_record_one(database_url: str) -> None:
    settings = load_settings(settings_dict(database_url))
    hub = build_hub(settings)
    engine = Interceptor(settings, FakeScorer(0.99))
    app = create_app(hub=replace(hub, interceptor=LazyInterceptor(lambda: engine)))
    try:
        asked = app.test_client().post("/api/v1/ask", json={"text": "how do I reset my password?", "email": "a@example.com"})
        assert asked.status_code == 200 and asked.get_json()["verdict"] == "answer"
        ref = asked.get_json()["ref"]
        MeetAtTheVerdict(hub.db.engine)

        def vote(solved: bool) -> Any:
            response = app.test_client().post("/api/v1/feedback", json={"ref": ref, "solved": solved})
            return response.status_code, response.get_json()["recorded"]

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(vote, (True, False)))
        with hub.db.session() as s:
            kinds = list(s.scalars(select(OutcomeRow.kind).where(OutcomeRow.ticket_ref == ref).order_by(OutcomeRow.id)))
    finally:
        hub.close()
    verdicts = [k for k in kinds if k in ("solved", "not_solved")]
    assert len(verdicts) == 1, kinds  # the first verdict counts, the other is not recorded
    assert sorted(recorded for _, recorded in answers) == [False, True]
    assert all(status == 200 for status, _ in answers)
    assert ("escalated" in kinds) == (verdicts == ["not_solved"])  # an escalation only for the verdict kept
