"""`adapt`: fine-tune a model on the user's own unlabelled recordings, taught by the real-face
teachers (docs/TRAINING.md "From your own robot's recordings")."""
