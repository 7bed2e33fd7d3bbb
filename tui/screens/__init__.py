"""The screens shown over the game: help, end of round, errors."""
