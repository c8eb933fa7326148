"""Data stage: download, verify, clean and subsample the corpora and test sets."""
