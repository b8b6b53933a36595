"""Reference servers that the bench measures Tarmac against (optional, ``make bench-reference``)."""
