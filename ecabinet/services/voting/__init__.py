"""Polls and ballots: drafting, opening, casting, closing, results and their export."""
