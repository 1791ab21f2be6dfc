"""Water-meter statistics engine: readings in, usage statistics and statuses out.

Plain Python: nothing here imports Home Assistant (a test enforces it), so
the engine can be tested and benchmarked on its own. See stats.py for the
definitions of every statistic and status rule, and history.py for how
interval usage is attributed to hours and days.
"""
