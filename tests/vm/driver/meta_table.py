#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Tables for run-driver-tests.sh metabench, from the guest's log and the
host's request snapshots on stdin:

    GUEST-META DOOR ROUND STEP walk MODE DIR: N entries, M files mapped, sum S, T s
    HOST-REQ DOOR ROUND STEP start|end requests OP=COUNT ...

Prints, per door and step, the median over rounds of the seconds and of
the requests per file (total and by opcode), the ratios to the baseline
door "off" (the same device without READDIRPLUS and inline maps) and
whether the targets of the "on" door hold. Exits 1 if a round is missing.
"""
import re
import statistics
import sys

STEPS = ["list", "stat", "mmap", "warm"]
NAMES = {"on": "virtio-famfs, READDIRPLUS + inline maps",
         "off": "virtio-famfs, features off (baseline)",
         "vfsd": "virtiofsd (host directory)"}

secs, files, snaps = {}, {}, {}
for line in sys.stdin:
    line = line.strip()
    m = re.match(r"GUEST-META (\w+) (\d) (\w+) walk \w+ \S+: (\d+) entries, "
                 r"\d+ files mapped, sum \d+, ([0-9.]+) s", line)
    if m:
        d, r, st, n, t = m.groups()
        secs[(d, st, r)] = float(t)
        files[d] = int(n)
        continue
    m = re.match(r"HOST-REQ (\w+) (\d) (\w+) (start|end) requests ?(.*)", line)
    if m:
        d, r, st, when, kv = m.groups()
        snaps[(d, st, r, when)] = {k: int(v) for k, v in
                                   (x.split("=") for x in kv.split())}

doors = [d for d in ("on", "off", "vfsd") if d in files]
if not doors:
    sys.exit("meta_table: no GUEST-META lines")
rc = 0
req = {}     # (door, step) -> (median total per file, {op: median per file})
for d in doors:
    for st in STEPS:
        per_round, by_op = [], {}
        for r in "123":
            a, b = snaps.get((d, st, r, "start")), snaps.get((d, st, r, "end"))
            if a is None or b is None or (d, st, r) not in secs:
                print(f"meta_table: {d} {st} round {r} missing")
                rc = 1
                continue
            delta = {k: b[k] - a.get(k, 0) for k in b if b[k] - a.get(k, 0)}
            per_round.append(sum(delta.values()))
            for k, v in delta.items():
                by_op.setdefault(k, []).append(v)
        if per_round:
            n = files[d]
            ops = {k: statistics.median(v + [0] * (len(per_round) - len(v))) / n
                   for k, v in by_op.items()}
            req[(d, st)] = (statistics.median(per_round) / n, ops)

print(f"| door | step | s (median of 3) | ratio to off | requests/file | by opcode |")
print("|---|---|---|---|---|---|")
for d in doors:
    for st in STEPS:
        t = [secs[k] for k in secs if k[0] == d and k[1] == st]
        base = [secs[k] for k in secs if k[0] == "off" and k[1] == st]
        if not t or (d, st) not in req:
            continue
        tm, bm = statistics.median(t), statistics.median(base) if base else 0
        ratio = f"{tm / bm:.2f}" if bm else "-"
        tot, ops = req[(d, st)]
        by = ", ".join(f"{k.upper()} {v:.4f}" for k, v in sorted(ops.items()) if v)
        print(f"| {NAMES[d]} | {st} | {tm:.2f} | {ratio} | {tot:.4f} | {by or '-'} |")

if "on" in doors and all(("on", st) in req for st in STEPS[:3]):
    n = files["on"]
    walk = sum(req[("on", st)][0] for st in STEPS[:3]) * n
    checks = [("stat of every listed file: 0 requests/file",
               req[("on", "stat")][0] == 0),
              ("first open+mmap+read of a listed file: 0 requests/file",
               req[("on", "mmap")][0] == 0),
              (f"whole walk <= 1 request per 32 files ({walk:.0f} for {n})",
               walk <= n / 32)]
    for what, ok in checks:
        print(f"target: {what}: {'met' if ok else 'MISSED'}")
        rc |= 0 if ok else 1
sys.exit(rc)
