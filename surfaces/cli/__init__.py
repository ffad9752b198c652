"""The ``hub`` command (click)."""
