"""The central store: HTTP API over SQLite or PostgreSQL, fed by terminals in batches."""
