"""Interop: importers from and exporters to the tools teams already run (MLflow, OpenLineage)."""
