"""Development tools: the jk-balancer command, capture readers, benchmarks."""
