"""Moving frames over sockets: the channel, TLS, identities, the listener and enrollment."""
