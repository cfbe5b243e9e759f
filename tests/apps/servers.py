"""Real servers for the application tests, started and stopped by the tests themselves:
gunicorn serving tests/apps/programs/gunicorn_app.py, a private redis-server, a Celery
worker on tests/apps/programs/celery_app.py, and a bounded HTTP load generator.

Every server runs in its own session (process group), so stop() can end it and whatever
it forked, by that group's id, however the test ended. The helpers it builds on (need,
wait_for, children_of) come from tests/apps/conftest.py, as the test modules' do."""
import collections
import concurrent.futures
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

from conftest import TREEPROF, children_of, need, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
PYTHON = "/usr/bin/python3"  # Debian's 3.11: the one python3-flask and python3-celery serve
GUNICORN = "/usr/bin/gunicorn"
REDIS_SERVER = "/usr/bin/redis-server"

def require_root_and_build():
    """What every app test needs before anything starts: the build, and root for BPF."""
    assert os.access(TREEPROF, os.X_OK), "build ./treeprof first (make treeprof)"
    assert os.geteuid() == 0, "the app tests load BPF programs: run as root"

def need_module(name, package):
    """Skip outside CI when a Python module of Debian's python3 is missing; fail under CI."""
    try:
        importlib.import_module(name)
    except ImportError:
        need(None, "%s (Python module %s)" % (package, name))

# ---------------------------------------------------------------- processes

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def vm_status(pid):
    """{'VmRSS': bytes, 'VmHWM': bytes} from /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(val.split()[0]) * 1024
    return out

def end_group(proc, timeout, sig=signal.SIGTERM):
    """Send sig to the leader proc, wait up to timeout, then SIGKILL the leader's whole
    process group (the session it was started in) and reap the leader. Returns the leader's
    exit status, or None when it had to be killed."""
    status = None
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            status = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    else:
        status = proc.returncode
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # leftovers: workers whose master is gone
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    return status

# ---------------------------------------------------------------- gunicorn

class Gunicorn:
    """Debian's gunicorn serving gunicorn_app:app with `workers` sync workers on a free
    loopback port. Use as a context manager: the server is stopped on the way out."""

    def __init__(self, tmp, workers=4, preload=False, launcher=()):
        """preload: the master imports the app before forking (gunicorn --preload), so the
        workers start with its heap. launcher: argv run in front of gunicorn's (treeprof
        record ... --); the master is then the launcher's child."""
        self.tmp, self.nworkers, self.preload = tmp, workers, preload
        self.launcher = list(launcher)
        self.proc, self.port, self.workers = None, None, []
        self.log = os.path.join(tmp, "gunicorn.log")
        # Standard output and error of what was started (the launcher's, with one).
        self.out_path = os.path.join(tmp, "gunicorn.stdout")
        self.err_path = os.path.join(tmp, "gunicorn.stderr")

    def stderr(self):
        return open(self.err_path).read()

    @property
    def master(self):
        if not self.launcher:
            return self.proc.pid
        kids = children_of(self.proc.pid)
        return kids[0] if len(kids) == 1 else None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def _argv(self):
        return self.launcher + [GUNICORN] + (["--preload"] if self.preload else []) + [ "--workers", str(self.nworkers), "--worker-class", "sync",
                "--bind", "127.0.0.1:%d" % self.port, "--chdir", PROGRAMS,
                "--timeout", "60", "--graceful-timeout", "5", "--log-file", self.log,
                "gunicorn_app:app"]

    def _ready(self):
        if (self.proc.poll() is not None or self.master is None
                or len(children_of(self.master)) != self.nworkers):
            return False
        try:
            with urllib.request.urlopen(self.url("/light"), timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def start(self, timeout=30):
        # The port is free when picked but could be taken before gunicorn binds it: then
        # the master exits at once, and another port is tried.
        for _ in range(3):
            self.port = free_port()
            with open(self.out_path, "w") as o, open(self.err_path, "w") as e:
                self.proc = subprocess.Popen(self._argv(), stdin=subprocess.DEVNULL, stdout=o,
                                             stderr=e, start_new_session=True)
            end = time.monotonic() + timeout
            while time.monotonic() < end and self.proc.poll() is None and not self._ready():
                time.sleep(0.1)
            if self._ready():
                self.workers = children_of(self.master)
                return self
            end_group(self.proc, 5)
        raise AssertionError("gunicorn did not serve %d workers within %d s; log:\n%s"
                             % (self.nworkers, timeout, self.read_log()[-3000:]))

    def read_log(self):
        try:
            return open(self.log).read()
        except FileNotFoundError:
            return ""

    def stop(self, timeout=30):
        """SIGTERM the master (gunicorn's graceful stop) and wait for it (with a launcher:
        for the launcher, which ends with the tree); then kill what is left of the group.
        Returns the exit status of what was started, None when it had to be killed."""
        if self.proc is None:
            return None
        if self.launcher:
            master = self.master
            if master:
                os.kill(master, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        return end_group(self.proc, timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

def http_load(urls, total, threads=8, deadline_s=30.0):
    """A bounded load generator: `total` GET requests, cycling through `urls`, from a pool
    of `threads` threads, stopping early at the deadline. Returns (answers, errors): answers
    a Counter of (url, status) and a dict url -> [body text] of the bodies, errors a list of
    (url, text)."""
    end = time.monotonic() + deadline_s
    answers, bodies, errors = collections.Counter(), collections.defaultdict(list), []
    lock = threading.Lock()

    def one(i):
        url = urls[i % len(urls)]
        if time.monotonic() > end:
            return
        try:
            with urllib.request.urlopen(url, timeout=max(1.0, end - time.monotonic())) as r:
                body = r.read().decode(errors="replace")
                with lock:
                    answers[(url, r.status)] += 1
                    bodies[url].append(body)
        except OSError as e:
            with lock:
                errors.append((url, repr(e)))

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(total)))
    return answers, dict(bodies), errors

def pids_in(bodies):
    """Worker pids named at the end of each body ("... in PID")."""
    out = collections.Counter()
    for text in bodies:
        m = re.search(r" in (\d+)\s*$", text)
        if m:
            out[int(m.group(1))] += 1
    return out

# ---------------------------------------------------------------- redis

class Redis:
    """A private redis-server on a unix socket in a short temporary directory (socket paths
    are limited to 107 bytes), no persistence, no TCP port. A context manager."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tp-redis-")
        self.sock = os.path.join(self.dir, "redis.sock")
        self.proc = None

    @property
    def url(self):
        """The URL kombu and Celery's result backend take for a unix socket."""
        return "redis+socket://" + self.sock

    def client(self):
        import redis
        return redis.Redis(unix_socket_path=self.sock, socket_timeout=10)

    def start(self, timeout=15):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
             "--logfile", os.path.join(self.dir, "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

        def up():
            assert self.proc.poll() is None, "redis-server exited: " + self.read_log()
            try:
                return self.client().ping()
            except Exception:
                return False
        wait_for(up, timeout, "redis-server to answer PING")
        return self

    def read_log(self):
        try:
            return open(os.path.join(self.dir, "redis.log")).read()[-3000:]
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is not None:
            end_group(self.proc, 10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

# ---------------------------------------------------------------- celery

class Celery:
    """A Celery worker of celery_app (prefork pool, `concurrency` processes) on a Redis
    broker and result backend. argv() is the worker's command line (for treeprof record
    --); start() runs it itself; either way main_pid() reads the worker's pidfile."""

    def __init__(self, tmp, redis, concurrency=3):
        self.tmp, self.redis, self.concurrency = tmp, redis, concurrency
        self.pidfile = os.path.join(tmp, "celery.pid")
        self.log = os.path.join(tmp, "celery.log")
        self.proc = None

    def argv(self):
        return [PYTHON, "-m", "celery", "--workdir", PROGRAMS, "-A", "celery_app",
                "-b", self.redis.url, "--result-backend", self.redis.url,
                "worker", "--pool", "prefork", "--concurrency", str(self.concurrency),
                "--hostname", "treeprof-test@%h", "--without-gossip", "--without-mingle",
                "--without-heartbeat", "--pidfile", self.pidfile, "--logfile", self.log,
                "--loglevel", "INFO"]

    def read_log(self):
        try:
            return open(self.log).read()
        except FileNotFoundError:
            return ""

    def main_pid(self):
        try:
            return int(open(self.pidfile).read().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def pool(self):
        pid = self.main_pid()
        return children_of(pid) if pid else []

    def wait_ready(self, alive, timeout=40):
        """Until the worker logs "ready." with its whole pool forked; `alive()` says whether
        what runs it (the worker itself, or treeprof) is still there."""
        def ready():
            assert alive(), "the Celery worker ended early; log:\n" + self.read_log()[-3000:]
            return " ready." in self.read_log() and len(self.pool()) == self.concurrency
        try:
            wait_for(ready, timeout, "the Celery worker to be ready")
        except AssertionError as e:
            raise AssertionError("%s; pool %s; log:\n%s" % (e, self.pool(),
                                                            self.read_log()[-3000:]))

    def start(self):
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self.wait_ready(lambda: self.proc.poll() is None)
        return self

    def terminate(self):
        """SIGTERM the main process: Celery's warm shutdown (running tasks finish, the pool
        exits)."""
        pid = self.main_pid()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop(self):
        if self.proc is not None:
            return end_group(self.proc, 20)
        return None

    def client(self):
        """A Celery client app on the same broker and backend, to send tasks by name."""
        from celery import Celery as App
        return App("treeprof-test-client", broker=self.redis.url, backend=self.redis.url)
