"""Data loading, training, evaluation and reports for the bundles in `models/`."""
