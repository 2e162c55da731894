"""Evaluation: ABAW metrics, label files, scoring, bag replay and reports."""
