"""Try the hub before connecting anything: ``hub simulate slack "TEXT"`` (see ``command.py``)."""
