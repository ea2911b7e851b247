"""Test helpers for Connect Hub and its plugins."""
