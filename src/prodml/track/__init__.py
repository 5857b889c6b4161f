"""Runs: configs, params, metrics, artifacts and models, buffered and captured."""
