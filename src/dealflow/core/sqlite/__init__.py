"""Django's SQLite backend, with decimals stored exactly (see base.py)."""
