"""A failed statement's error never carries its parameters (message bodies, people's addresses): the error is
logged (``http.unhandled``, a job's traceback) and kept as a row's ``last_error``. Found attacking a served hub on
PostgreSQL: the 500 of ``/api/v1/ask`` logged the asker's address as the statement's parameter."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from core.db import Database, PersonRow
from core.models import utcnow

PRIVATE = "ada.lovelace@example.com"


def test_a_failed_statement_names_no_parameter_on_either_database(database_url: str) -> None:
    db = Database(database_url)
    try:
        now = utcnow()
        row = {"source": "web", "external_id": "p1", "is_agent": False, "created_at": now, "updated_at": now}
        with db.session() as s:
            s.add(PersonRow(**row, name=""))
        # The same person again, named past the column: PostgreSQL refuses the name's length, SQLite the unique key;
        # neither database's own message holds the name.
        with pytest.raises(DBAPIError) as raised:
            with db.session() as s:
                s.add(PersonRow(**row, name=PRIVATE * 20))
        assert PRIVATE not in str(raised.value) and "hide_parameters" in str(raised.value)
    finally:
        db.dispose()
