"""The programs' edge: launch options, the CLIs, the commands, bots, and events put into words."""
