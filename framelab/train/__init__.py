"""Fine-tuning: encoding, losses, thresholds and the training run."""
