"""The knowledge base as the pipeline's input: importing articles (Markdown, HTML, bench packs), splitting
them into sections and passages, syncing knowledge sources, and managing what is stored.

- ``importer``: files and ``pack.json`` into ``core.kb`` articles
- ``screen``: which files are clearly not help articles (skipped unless forced) or lack a title
- ``markdown``: Markdown to plain text and sections (HTML is ``core.html``, shared with the connectors)
- ``sections``: sections into passages (a passage never spans two sections)
- ``sync``: incremental pulls from knowledge sources (Zendesk Help Center)
- ``manage``: list, remove, status, and the watcher a running server uses to notice KB changes
"""
