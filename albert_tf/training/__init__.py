"""Training runtime: distribution strategies, pretraining losses and step, checkpoints, logging."""
