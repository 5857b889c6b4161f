"""The prediction log: every served request as a row of a Parquet segment, labels
that arrive later, and SQL over both with DuckDB."""
