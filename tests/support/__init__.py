"""Test support that is not a test: servers and helpers other tests start."""
