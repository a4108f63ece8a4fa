"""The composition layer: builds processes (web server, engine and feed workers, the CLI) from the parts.

It imports every other package; none imports it (``app.py``, the tests and the benchmarks aside).
"""
