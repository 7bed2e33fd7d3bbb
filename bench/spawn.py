"""Run one command and record its wall time and peak RSS: `spawn.py RESULT_FILE PROGRAM ARGS...`.

A child's ru_maxrss counts the memory of the process that forked it (Linux keeps the old mm's
high-water mark at exec), so the benchmark, large from hashing, must not be that parent: this
small process (started with `python -I -S`) is. Writes "seconds maxrss_kib" to RESULT_FILE and
exits with the command's status.
"""

import os
import sys
import time

result, *command = sys.argv[1:]
start = time.perf_counter()
pid = os.posix_spawn(command[0], command, os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(result, "w") as f:
    f.write(f"{seconds} {usage.ru_maxrss}\n")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
