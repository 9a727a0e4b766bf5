"""Environment variables through which ``putback central serve`` configures its worker processes."""

DB_ENV = "PUTBACK_CENTRAL_DB"
"""The central store's database URL (also the ``--db`` option's variable)."""

MAX_STOCK_ENV = "PUTBACK_CENTRAL_MAX_STOCK"
"""The cap on any stock figure (``--max-stock``)."""
