"""The database peer: registry and pushes, backup into the vault, membership, the CA."""
