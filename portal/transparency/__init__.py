"""Transparency: spending with evidence, budgets, owners' accounts, statements, publication log."""
