"""A Flask app for tests/apps/test_gunicorn.py, served by Debian's gunicorn with sync workers.

/heavy spends its time in count_primes (a named, pure-Python CPU function), /light returns at
once, /hold keeps the last HOLD_KEEP blocks of HOLD_BYTES in a module-level deque (a bounded
heap that must show up in the memory figures, and never above the worker's RSS).
Lines the test looks for carry a `# LINE:name` marker; the test finds them in this file."""
import collections
import os

from flask import Flask

HEAVY_LIMIT = 40000
HOLD_BYTES = 256 * 1024
HOLD_KEEP = 48

app = Flask(__name__)
_held = collections.deque(maxlen=HOLD_KEEP)


def count_primes(limit):
    found = 0
    for n in range(2, limit):
        d = 2
        while d * d <= n:  # LINE:count_primes_loop
            if n % d == 0:
                break
            d += 1
        else:
            found += 1
    return found


@app.route("/heavy")
def heavy_view():
    found = count_primes(HEAVY_LIMIT)  # LINE:heavy_call
    return "%d primes below %d in %d\n" % (found, HEAVY_LIMIT, os.getpid())


@app.route("/light")
def light_view():
    return "ok %d\n" % os.getpid()


@app.route("/hold")
def hold_view():
    # os.urandom: every page is written, so what is held is resident.
    _held.append(os.urandom(HOLD_BYTES))
    return "holding %d bytes in %d\n" % (HOLD_BYTES * len(_held), os.getpid())
