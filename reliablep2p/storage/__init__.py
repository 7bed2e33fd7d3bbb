"""What is kept: a peer's shared folder and the verified partial file; the database peer's
metadata (SQLite, or PostgreSQL) and vault (a folder, or an S3-compatible object store) behind
the protocols of `interfaces.py`."""
