"""Environment variables through which ``putback central serve`` configures its worker processes."""

DB_ENV = "PUTBACK_CENTRAL_DB"
"""The central store's database URL (also the ``--db`` option's variable)."""

MAX_STOCK_ENV = "PUTBACK_CENTRAL_MAX_STOCK"
"""The cap on any stock figure (``--max-stock``)."""

SLA_ENV = "PUTBACK_CENTRAL_SLA"
"""A TOML file whose ``[sla]`` and ``[priority]`` sections the backlog judges by
(``--sla-config``)."""
