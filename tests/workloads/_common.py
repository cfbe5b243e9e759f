"""What several workloads share (imported from their own folder; standard library only,
Python 3.8 and later).

A workload that must be seen *in* a function of its own spins in that function's body
(mixed_parent.py, pyfeatures.py, diff_pool.py: the tests check the leaf Python frame);
the others call spin() from a function whose name the tests look for on the stack."""
import time


def spin(seconds, clock=time.monotonic, width=1000):
    """Burn CPU in pure Python until `seconds` have passed on clock (wall time by default;
    time.process_time: this process's CPU time); width: iterations between clock reads."""
    x, end = 0, clock() + seconds
    while clock() < end:
        for i in range(width):
            x += i * i
    return x
