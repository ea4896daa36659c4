"""Several level4 nodes sharing the markets: membership and ownership in PostgreSQL."""
