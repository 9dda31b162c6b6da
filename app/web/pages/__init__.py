"""The web pages, one module per part of the site; each exposes ``router``."""
