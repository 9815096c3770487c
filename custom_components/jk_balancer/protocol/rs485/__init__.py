"""JK DZ-series balancers on RS485: the codec, the shared port, the client."""
