"""`affect-perception import-weights`: other people's trained weights into this project's files."""
