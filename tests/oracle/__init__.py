"""Differential tests against the real Amazon Connect Streams library (the streams-oracle)."""
