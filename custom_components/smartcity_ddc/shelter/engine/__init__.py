"""Sungil DDC protocol library: profiles, read planning, codec and async client.

Plain Python: nothing here imports Home Assistant (a test enforces it), so the
library can be tested and benchmarked on its own.
"""
