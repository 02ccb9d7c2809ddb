"""The classifiers and the trained model bundle they load (no Flask, no training code here)."""
