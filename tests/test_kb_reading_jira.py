"""What a person reads in Jira: a Markdown article imported, then asked about in a Jira issue (the Jira API
faked with ``responses``): the exact comment body the hub posts (REST v2: wiki markup)."""

from __future__ import annotations

import json


from config import load_settings
from conftest import settings_dict
from interceptor.kb.importer import import_articles


API_ARTICLE = """---
title: Look up a user with the API
url: https://kb.example/api-users
---
# Look up a user with the API

## Find a user by id

Send GET /api/v2/users/{id} with your token, then press [Enter] in the console to run it.
"""


def _commented_in_jira(database_url: str, article: str, summary: str, description: str) -> str:
    """Import the Markdown ``article``, open a Jira issue asking ``description`` (threshold 0.5, the Jira API
    faked with ``responses``) and return the body of the one comment the hub posts."""
    from app import build_hub
    from interceptor.kb.importer import parse_markdown
    from test_jira_connector import JIRA, issue_created

    settings = settings_dict(database_url, **JIRA, HUB_CHANNEL_POLICIES={"jira": {"threshold": 0.5}})
    hub = build_hub(load_settings(settings))
    import_articles(hub.db, [parse_markdown(article, "article.md")])
    response, calls = issue_created(hub, summary, description)
    assert response.get_json()["status"] == "accepted"
    [comment] = [json.loads(c.request.body) for c in calls if c.request.method == "POST"]
    hub.close()
    return str(comment["body"])


def test_a_jira_answer_quoting_placeholders_and_keys_shows_them_as_written(sqlite_url: str) -> None:
    """Jira's REST v2 comment body is wiki markup: the passage's ``{id}`` and ``[Enter]`` must be escaped
    or Jira shows an unknown-macro error box and a broken link in the public comment."""
    body = _commented_in_jira(sqlite_url, API_ARTICLE, "API user lookup", "How do I find a user by id with the API?")
    assert body == (
        "Send GET /api/v2/users/\\{id} with your token, then press \\[Enter] in the console to run it.\n\n"
        "Source: Look up a user with the API › Find a user by id - https://kb.example/api-users\n\n"
        'Did this solve it? Reply "This solved it", or "I still need help" to reach a person.'
    )


PATTERNS = """---
title: Name files for the export
url: https://kb.example/export-names
---
# Name files for the export

## Keep a file out of the export

Name a file `*_backup_*.csv` and the export skips it. Add `+draft+` to a name to keep it out of shared
reports, or `-old-` to archive it; `2024-05-01_report.csv` and `5 * 3` stay as they are.
"""


def test_a_jira_answer_quoting_text_effect_marks_shows_them_as_written(sqlite_url: str) -> None:
    """In wiki markup ``*_backup_*`` would be bold italic 'backup', ``+draft+`` underlined and ``-old-`` struck
    through: their opening symbols are escaped; a mark Jira would not render (``5 * 3``, a date) is left alone."""
    body = _commented_in_jira(sqlite_url, PATTERNS, "Export file names", "How do I keep a backup file out of the export?")
    assert body == (
        "Name a file \\*\\_backup_*.csv and the export skips it. Add \\+draft+ to a name to keep it out of shared "
        "reports, or \\-old- to archive it; 2024-05-01_report.csv and 5 * 3 stay as they are.\n\n"
        "Source: Name files for the export › Keep a file out of the export - https://kb.example/export-names\n\n"
        'Did this solve it? Reply "This solved it", or "I still need help" to reach a person.'
    )
