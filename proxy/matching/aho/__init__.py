"""The Aho-Corasick engine: word windows of the catalogue in one automaton, and its disk cache.

Reached only through ``proxy.matching.engines``; everything else sees ``proxy.matching.seam``.
"""
