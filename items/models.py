"""Connected items (built in the items issue)."""
