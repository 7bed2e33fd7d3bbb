"""One module per panel of the game screen."""
