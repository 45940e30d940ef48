"""Training loops, schemes, checkpoints and run records."""
