"""Signals other apps hook into without workspaces importing them."""

from django.dispatch import Signal

# Sent inside the creating transaction with `workspace`: apps that keep
# per-workspace defaults (the calls app's default agent) create them here.
workspace_created = Signal()
