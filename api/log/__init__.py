"""The request log: one row per request, into MySQL (`store.py`) or, while MySQL is down, the
local spool (`spool.py`); the schema step and the retention purge run as commands of their own."""
