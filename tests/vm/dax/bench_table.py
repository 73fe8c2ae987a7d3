#!/usr/bin/env python3
"""Summarizes run-dax-tests.sh bench: reads the guest's GUEST-BENCH lines and
the host's HOST-REQ request counts on stdin and the daemon log named by
argv[1]; prints a markdown table of medians and ratios to anonymous memory,
requests per open by opcode, and writes an SVG bar chart to $BENCH_SVG when
set. Exits 1 when a front door reported nothing."""
import os
import re
import statistics
import sys

NAMES = {
    "mod": "virtio-famfs (module)",
    "dax": "virtio-fs DAX",
    "copy": "virtio-fs copy",
    "vfsd": "virtiofsd (host dir)",
}
BENCH = re.compile(
    r"GUEST-BENCH (\w+) (first|second) bench: file ([\d.]+) MB/s .*anonymous ([\d.]+) MB/s"
)
READ = re.compile(r"GUEST-BENCH (\w+) read (\d+) bytes.* copied, ([\d.]+) seconds")
OPEN = re.compile(r"GUEST-BENCH (\w+) open10k ([\d.]+) s")
REQ = re.compile(r"GUEST-BENCH mod (requests-[\w-]+) (\d+)")
# The host's counts at the start and end of each open10k round.
HOST_REQ = re.compile(r"HOST-REQ (\w+) (\d+) (start|end) requests ?(.*)")
FILES = 10000
OP_ORDER = {k: i for i, k in enumerate(
    ["lookup", "getattr", "open", "read", "flush", "release", "readdir", "other"])}
FAULTS = re.compile(r"GUEST-BENCH (\w+) faults (.*)")
DAX = re.compile(r"DAX window: (\d+) SETUPMAPPING \((\d+) MiB mapped\)")


def main():
    passes, anon, reads, opens, reqs, faults = {}, [], {}, {}, {}, {}
    mod_open, snaps = [], {}
    for line in sys.stdin:
        if m := BENCH.search(line):
            # (file MB/s, file / anonymous of the same invocation): the
            # per-run ratio cancels the host's load, which moves both.
            passes.setdefault((m[1], m[2]), []).append((float(m[3]), float(m[3]) / float(m[4])))
            anon.append(float(m[4]))
        elif m := READ.search(line):
            reads.setdefault(m[1], []).append(int(m[2]) / float(m[3]) / 1e6)
        elif m := OPEN.search(line):
            opens.setdefault(m[1], []).append(float(m[2]))
        elif m := FAULTS.search(line):
            faults[m[1]] = m[2].strip()
        elif m := REQ.search(line):
            reqs[m[1]] = int(m[2])
            if m[1] == "requests-open10k":
                mod_open.append(int(m[2]))
        elif m := HOST_REQ.search(line):
            counts = dict(kv.split("=") for kv in m[4].split())
            snaps[(m[1], m[2], m[3])] = {k: int(v) for k, v in counts.items()}
    dax = None
    with open(sys.argv[1], errors="replace") as f:
        for line in f:
            if m := DAX.search(line):
                dax = (int(m[1]), int(m[2]))
    if not anon:
        print("no bench lines", file=sys.stderr)
        return 1
    a = statistics.median(anon)
    med = lambda v: statistics.median(v) if v else float("nan")
    doors = [d for d in NAMES if (d, "first") in passes]
    per_open = open_requests(snaps)
    if mod_open:
        per_open["mod"] = {"total": statistics.median(mod_open) / FILES}
    print(f"anonymous memory: median {a:,.0f} MB/s over {len(anon)} runs; mmap ratios are "
          "the median of each run's file / anonymous, read(2) ratios are to this median\n")
    print("| front door | 1st mmap pass MB/s (ratio) | 2nd mmap pass MB/s (ratio) "
          "| read(2) 1 MiB MB/s (ratio) | open 10,000 files, s | requests per open |")
    print("|---|---|---|---|---|---|")
    rows = []
    for d in doors:
        p1 = passes[(d, "first")]
        p2 = passes.get((d, "second"), [])
        b1, r1 = med([v for v, _ in p1]), med([r for _, r in p1])
        b2, r2 = med([v for v, _ in p2]), med([r for _, r in p2])
        rd = med(reads.get(d, []))
        op = med(opens.get(d, []))
        rows.append((d, r1, r2, rd / a))
        rq = per_open.get(d, {}).get("total")
        rq = "n/a" if rq is None else f"{rq:.2f}"
        print(f"| {NAMES[d]} | {b1:,.0f} ({r1:.2f}) | {b2:,.0f} ({r2:.2f}) "
              f"| {rd:,.0f} ({rd / a:.2f}) | {op:.2f} | {rq} |")
    print()
    print(f"requests per open of {FILES:,} small files (cat of each; median of the rounds), by opcode:\n")
    print("| front door | total | by opcode |")
    print("|---|---|---|")
    for d in doors:
        if d not in per_open:
            continue
        ops = per_open[d]
        # In request order; what is below 0.005 per open (the directory's
        # own OPENDIR, READDIRPLUS, RELEASEDIR) is left out.
        by = ", ".join(f"{k.upper()} {v:.2f}" for k, v in
                       sorted(ops.items(), key=lambda kv: (OP_ORDER.get(kv[0], 99), kv[0]))
                       if k != "total" and v >= 0.005)
        print(f"| {NAMES[d]} | {ops['total']:.2f} | {by or 'total only (debugfs req_total)'} |")
    print()
    if dax:
        print(f"virtio-fs DAX: {dax[0]} SETUPMAPPING for {dax[1]} MiB mapped "
              f"= {dax[0] * 1024 / dax[1]:.0f} per GiB")
    for d, v in faults.items():
        print(f"{NAMES.get(d, d)}: fs_dax faults in its 10 mmap passes: {v}")
    for k, v in reqs.items():
        print(f"virtio-famfs {k}: {v}")
    if svg := os.environ.get("BENCH_SVG"):
        write_svg(svg, rows, a)
    missing = [d for d in ("mod", "dax", "copy") if d not in doors or d not in per_open]
    if missing:
        print(f"no results for {missing}", file=sys.stderr)
        return 1
    return 0


def open_requests(snaps):
    """{door: {opcode: requests per file opened, "total": ...}}: each
    round's end minus start counts, the median over the rounds, per file."""
    rounds = {}
    for (d, r, when), start in snaps.items():
        end = snaps.get((d, r, "end"))
        if when != "start" or end is None:
            continue
        diff = {k: end.get(k, 0) - start.get(k, 0) for k in sorted(set(start) | set(end))}
        diff["total"] = sum(diff.values())
        rounds.setdefault(d, []).append(diff)
    out = {}
    for d, rs in rounds.items():
        keys = set().union(*rs)
        out[d] = {k: statistics.median([x.get(k, 0) for x in rs]) / FILES for k in keys}
    return out


def write_svg(path, rows, anon):
    """Grouped bars: ratio to anonymous memory per front door and test
    (`rows` holds the ratios)."""
    tests = ["1st mmap pass", "2nd mmap pass", "read(2)"]
    colors = ["#4c72b0", "#55a868", "#c44e52"]
    w, h, left, top, bottom = 640, 300, 50, 30, 60
    gw = (w - left - 20) / max(len(rows), 1)
    bw = gw / (len(tests) + 1)
    top_ratio = max([1.0] + [v for r in rows for v in r[1:] if v == v])
    y = lambda r: top + (h - top - bottom) * (1 - r / top_ratio)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="{w / 2}" y="16" text-anchor="middle">Throughput / anonymous memory '
           f'(same boot, median of 5)</text>']
    for t in (0, 0.5, 1.0):
        if t <= top_ratio:
            out.append(f'<line x1="{left}" x2="{w - 20}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                       f'stroke="#ccc"/><text x="{left - 5}" y="{y(t) + 4:.1f}" '
                       f'text-anchor="end">{t:.1f}</text>')
    for i, (d, *vals) in enumerate(rows):
        x0 = left + i * gw + bw / 2
        for j, v in enumerate(vals):
            r = v if v == v else 0
            out.append(f'<rect x="{x0 + j * bw:.1f}" y="{y(r):.1f}" width="{bw * 0.9:.1f}" '
                       f'height="{y(0) - y(r):.1f}" fill="{colors[j]}"/>')
        out.append(f'<text x="{x0 + 1.5 * bw:.1f}" y="{h - bottom + 15}" '
                   f'text-anchor="middle">{NAMES[d]}</text>')
    for j, t in enumerate(tests):
        out.append(f'<rect x="{left + j * 150}" y="{h - 25}" width="10" height="10" '
                   f'fill="{colors[j]}"/><text x="{left + j * 150 + 14}" y="{h - 16}">{t}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    sys.exit(main())
