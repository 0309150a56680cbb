"""Training: configuration, the training loop, checkpoints and run directories."""
