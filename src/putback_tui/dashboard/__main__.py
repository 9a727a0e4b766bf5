"""``python -m putback_tui.dashboard``: the dashboard alone (what ``--web`` runs per browser)."""

from putback_tui.dashboard.cli import dashboard

dashboard(prog_name="putback central dashboard")
