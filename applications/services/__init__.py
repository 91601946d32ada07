"""Applications' services: embedding tokens, who is calling, the per-process application rows, last use."""
