"""Thin operators: one user action each; they collect properties and call ``addon.session``."""
