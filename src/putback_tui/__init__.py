"""putback: clear exception orders and put stock back, with a scanner in hand."""

__version__ = "0.1.0"
