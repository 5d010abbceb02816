#!/usr/bin/env python3
"""measure.py -- runs one command and reports its wall time and peak memory.

    measure.py STDOUT_FILE STDERR_FILE COMMAND [ARG...]

The command runs as a child of this process with stdin from /dev/null and
its stdout and stderr written to the two files; then one line is printed:
"wall=SECONDS rss_mb=MB rc=STATUS". Wall time is the monotonic clock around
the whole child (start, plugin loading, all I/O). Peak RSS is ru_maxrss of
RUSAGE_CHILDREN after the wait: the largest resident set of any descendant
this process waited for, and since this process runs exactly one command
(through exec, a libtool wrapper script included) it is that command's peak.
Used by tests/bench/score.sh so that rlvr and the Python loop are measured
the same way, without depending on GNU time being installed. The exit status
is 0 when the command ran (its own status is in rc=), 127 when it could not
be started.
"""
import os
import resource
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 4:
        sys.stderr.write("usage: measure.py STDOUT_FILE STDERR_FILE COMMAND [ARG...]\n")
        return 2
    out_path, err_path, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(os.devnull, "rb") as devnull, open(out_path, "wb") as out, \
            open(err_path, "wb") as err:
        t0 = time.monotonic()
        try:
            rc = subprocess.call(cmd, stdin=devnull, stdout=out, stderr=err)
        except OSError as e:
            sys.stderr.write("measure.py: %s: %s\n" % (cmd[0], e))
            return 127
        wall = time.monotonic() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0  # KiB on Linux
    print("wall=%.4f rss_mb=%.1f rc=%d" % (wall, rss_mb, rc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
