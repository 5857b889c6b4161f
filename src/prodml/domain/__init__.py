"""Frozen records and rules of the loop; standard library only, no I/O."""
