#!/usr/bin/env python3
"""Lists the system calls `vhost-famfs serve` made after installing its
seccomp filter, from `strace -f -o FILE` traces (docs/sandboxing.md).

    scripts/seccomp-syscalls.py TRACE...

Only processes that exec'd `vhost-famfs ... serve` count, so a trace of a
whole test binary works too. Prints the calls seen after seccomp(), the
calls seen only before it (start-up), and any SIGSYS death.
"""
import re
import sys
from collections import Counter

LINE = re.compile(r"^(\d+)\s+(.*)$")
CALL = re.compile(r"^(?:<\.\.\. )?([a-z_0-9]+)[( ]")
CLONE_DONE = re.compile(r"^(?:<\.\.\. )?(clone3?|vfork|fork)\b.*= (\d+)$")


def scan(path, after, before, deaths):
    leader = {}      # thread id -> process (thread group) id
    pending = {}     # thread id -> its unfinished clone makes a thread
    daemons, filtered = set(), set()
    with open(path, errors="replace") as f:
        for raw in f:
            m = LINE.match(raw)
            if not m:
                continue
            tid, rest = int(m.group(1)), m.group(2).rstrip()
            proc = leader.setdefault(tid, tid)
            if re.match(r"clone3?\(", rest) and rest.endswith("<unfinished ...>"):
                pending[tid] = "CLONE_THREAD" in rest
            done = CLONE_DONE.match(rest)
            if done:
                child = int(done.group(2))
                thread = "CLONE_THREAD" in rest or (
                    rest.startswith("<...") and pending.pop(tid, False))
                leader[child] = proc if thread else child
            if rest.startswith("execve(") and "vhost-famfs" in rest and '"serve"' in rest:
                daemons.add(proc)
            if proc not in daemons:
                continue
            if "SIGSYS" in rest:
                deaths.append(raw.strip())
            c = CALL.match(rest)
            if not c or c.group(1) in ("exited", "killed", "resumed"):
                continue
            if c.group(1) == "seccomp":
                filtered.add(proc)
                continue
            (after if proc in filtered else before)[c.group(1)] += 1
    return len(daemons)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    after, before, deaths, n = Counter(), Counter(), [], 0
    for p in sys.argv[1:]:
        n += scan(p, after, before, deaths)
    print(f"daemon processes: {n}")
    print("after the filter:", " ".join(sorted(after)))
    print("start-up only:", " ".join(sorted(set(before) - set(after))))
    for d in deaths:
        print("SIGSYS:", d)
    sys.exit(1 if deaths else 0)


if __name__ == "__main__":
    main()
