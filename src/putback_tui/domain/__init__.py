"""The domain: models and inventory rules in pure Python. No SQL, no Textual, no I/O."""
