"""Lineage: graph queries over what produced and what used each object, as of any time."""
