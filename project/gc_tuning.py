"""Garbage collection settings for the web processes.

A web process holds thousands of long-lived stream objects (connections,
their tasks and generators), and CPython's default thresholds run a young
collection every 700 allocations and a full one whenever the survivors grow by
a quarter: while 10,000 streams opened, the collector took about 20 % of the
process's CPU (gc.callbacks, 2.4 s of GC in a 12 s window). The objects
loaded at start (Django, the URLconf, every module) never die, so they are
frozen out of every collection, and young collections run less often.
Measured (docs/PERFORMANCE.md, `bench/run.py --scenarios connects`): 568 µs
of server CPU a connect with the defaults, 417 µs with these, 2,231
reconnects/s instead of 1,673. (50,000, 50, 100) measured the same as these.
"""

import gc

THRESHOLDS = (20_000, 20, 20)


def tune_for_long_lived_connections() -> None:
    """Call once the application is loaded, before serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
