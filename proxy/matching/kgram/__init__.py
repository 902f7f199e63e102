"""The k-gram index engine: a memory-mapped file of hashed word windows (see ``engine``)."""
