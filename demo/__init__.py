"""A one-command local game (`make demo`)."""
