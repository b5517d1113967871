"""Jinja2 templates of the report writers (package data; a package so setuptools ships it)."""
