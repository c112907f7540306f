"""Rules: pure decisions over events (the compliance rules first)."""
