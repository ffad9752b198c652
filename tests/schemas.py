"""A throwaway PostgreSQL schema: what the PostgreSQL tests and the benchmarks that run on PostgreSQL
(``bench/ingest.py``, ``bench/scale.py``) each store into, so that runs never see each other's rows."""

from __future__ import annotations

import contextlib
import uuid
from typing import Iterator

from sqlalchemy import create_engine, text


@contextlib.contextmanager
def scratch_schema(postgres: str, prefix: str) -> Iterator[str]:
    """Create a schema named ``prefix`` and a random suffix in the database at URL ``postgres``; yield the
    URL that stores into it (its ``search_path``); drop it, with everything in it, afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{postgres}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
