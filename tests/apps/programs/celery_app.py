"""A Celery app for tests/apps/test_celery.py: a CPU task and an I/O-ish task.

The broker and the result backend are given on the worker's command line (-b,
--result-backend) and set by the test on its own client. Each task returns the pid of the
pool process that ran it, so the test knows which processes worked. Lines the test looks
for carry a `# LINE:name` marker."""
import os
import tempfile
import time

from celery import Celery

app = Celery("celery_app")
app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                worker_prefetch_multiplier=1, task_acks_late=True,
                broker_connection_retry_on_startup=True)


def collatz_longest(limit):
    best, best_n = 0, 1
    for n in range(1, limit):
        steps, x = 0, n
        while x != 1:  # LINE:collatz_loop
            x = x // 2 if x % 2 == 0 else 3 * x + 1
            steps += 1
        if steps > best:
            best, best_n = steps, n
    return best_n


@app.task
def crunch(limit):
    value = collatz_longest(limit)  # LINE:crunch_call
    return {"pid": os.getpid(), "value": value}


@app.task
def store_and_read(size):
    """Write a file, sync it, read it back and wait a little, as a task talking to a disk or
    a service would."""
    data = os.urandom(size)
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
        f.seek(0)
        back = f.read()
    time.sleep(0.02)
    return {"pid": os.getpid(), "value": len(back) if back == data else -1}
