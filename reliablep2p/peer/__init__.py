"""A player's node and its parts: session, fetch, serving, search, address book, peer list, events."""
