"""Notice board: announcements, read receipts and acknowledgements, Atom feed."""
