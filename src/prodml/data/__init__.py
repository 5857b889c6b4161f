"""Datasets: versions, schemas, summaries and diffs."""
