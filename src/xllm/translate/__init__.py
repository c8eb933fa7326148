"""Translate Alpaca into each language (Alpaca-X): shards, backends, protection, merge and QC."""
