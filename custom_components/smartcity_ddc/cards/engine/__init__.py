"""Access-card issue sync: the complex server's interface table into a local registry.

Plain Python: nothing here imports Home Assistant (a test enforces it), so the
engine can be tested and benchmarked on its own against a real MariaDB.
"""
