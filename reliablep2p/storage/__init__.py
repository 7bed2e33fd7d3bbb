"""What is kept on disk: a peer's shared folder, the verified partial file, the database peer's
catalog and vault (SQLite + content-addressed blobs)."""
