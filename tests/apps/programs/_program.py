"""What the application programs share (imported from their own folder; standard library
only): the manifest line each process writes as it starts, and a command line of plain
--options."""
import argparse
import os


def note(manifest, role):
    """Append "ROLE PID PPID" to the manifest, when there is one (one short write: lines
    from processes never mix)."""
    if manifest:
        with open(manifest, "a") as f:
            f.write("%s %d %d\n" % (role, os.getpid(), os.getppid()))


def options(**defaults):
    """The command line parsed: an --option per keyword (dashes for underscores), of its
    default's type (None: a string)."""
    ap = argparse.ArgumentParser()
    for name, default in defaults.items():
        ap.add_argument("--" + name.replace("_", "-"), default=default,
                        type=None if default is None else type(default))
    return ap.parse_args()
