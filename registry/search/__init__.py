"""Candidate search: the molvis_search() SQL function called from Python, with its filters and counts."""
