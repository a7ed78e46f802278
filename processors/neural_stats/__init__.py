"""neural-search's stats (``GET /_plugins/_neural/stats``, 3.0+) for what neuralpipe runs."""
