"""``make bench``: seed data at scale and measure server time and query counts."""
