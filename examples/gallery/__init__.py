"""A tiny photo-slideshow UI: the bundled refscope demo (runs on Python 2.5 to 3.13)."""
