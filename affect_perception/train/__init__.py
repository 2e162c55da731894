"""Training: data readers, losses, the feature cache, the trainer and its command line."""
