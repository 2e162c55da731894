"""Procedural face videos with ground truth for every task (VA, AUs, EMI, A/H, boxes)."""
