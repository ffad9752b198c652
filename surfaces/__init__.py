"""The surfaces: the HTTP app (``surfaces.http``) and the ``hub`` command (``surfaces.cli``).

The only package that imports Flask and click. Everything below it (``core``, ``connectors``,
``interceptor``) is handed the services it needs and knows nothing of requests or commands.
"""
