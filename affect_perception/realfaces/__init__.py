"""Real-face checks: clips made from real face photos, and what the model does on them."""
