"""The knowledge base as the pipeline's input: importing articles (Markdown, HTML, bench packs), splitting
them into sections and passages, syncing knowledge sources, and managing what is stored.

- ``importer``: files and ``pack.json`` into ``core.kb`` articles, with the screen for non-articles
- ``markdown``: Markdown to plain text and sections (HTML is ``core.html``, shared with the connectors)
- ``sections``: sections into passages (a passage never spans two sections)
- ``sync``: incremental pulls from knowledge sources (Zendesk Help Center)
- ``manage``: list, remove, status, and the watcher a running server uses to notice KB changes
"""
