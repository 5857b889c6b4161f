"""Shared by evaluate, deploy and serve: signatures, slices, guardrails, output
conversion and the predictor that applies them to a model version."""
