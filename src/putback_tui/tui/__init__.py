"""The operator's terminal UI (Textual): the only package of putback that imports Textual."""
