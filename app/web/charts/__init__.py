"""Charts drawn on the server as accessible SVG (``svg`` holds the primitives)."""
