"""Owners decide together: votes by area and headcount (Civil Code art. 278), proposals for the
common revenue, and rewards for paying on time."""
