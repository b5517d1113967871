"""Jinja2 templates of the history writers (package data)."""
