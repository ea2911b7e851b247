"""Connect Hub."""
