"""Stores: the metadata store (SQLite or PostgreSQL) and the blob store, chosen by URL."""
