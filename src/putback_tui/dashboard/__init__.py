"""The network dashboard: a Textual app that reads the central store's backlog API, nothing else.

It is a client of the HTTP API with a viewer token (``putback central add-viewer``): it holds no
database connection and imports neither the central store's storage nor the terminal's ledger
(an import-linter contract says so). ``putback central dashboard`` runs it in a terminal, and
``--web`` serves the same app to browsers through textual-serve.
"""
