"""`make bench`: Connect measured against its floors (see run.py)."""
