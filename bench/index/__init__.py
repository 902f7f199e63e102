"""The k-gram index engine at catalogue sizes from 1.3 M to 100 M words: ``bench.index``."""
