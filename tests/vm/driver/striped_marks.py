#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Writes marks into an interleaved file, straight into the device.

Reads `vhost-famfs getmap` output of one interleaved file on stdin and
writes "mark-<file offset>" at the device offsets of the file offsets in
MARKS (chunk k of the file is chunk k / n of strip k % n: famfs's
interleave, spec section 7.10). guest-striped.sh reads them back through
an mmap of the file.

    vhost-famfs getmap big | striped_marks.py DEVICE
"""
import re
import sys

GiB, MiB = 1 << 30, 1 << 20
# Strips 0, 1 and 15 of row 0, strip 0 of row 1, the middle, the end.
MARKS = [0, 2 * MiB + 5, 15 * 2 * MiB + 100, 16 * 2 * MiB, 32 * GiB + 12345,
         64 * GiB - 32]


def main():
    text = sys.stdin.read()
    chunk = int(re.search(r"chunk_size: (\d+)", text).group(1))
    strips = [int(o, 16) for o, _ in re.findall(r"^\s+([0-9a-f]+)\t(\d+)$", text, re.M)]
    if len(strips) != 16 or chunk != 2 * MiB:
        sys.exit(f"striped_marks: expected 16 strips of 2 MiB chunks: {text}")
    with open(sys.argv[1], "r+b") as dev:
        for pos in MARKS:
            k = pos // chunk
            at = strips[k % len(strips)] + (k // len(strips)) * chunk + pos % chunk
            dev.seek(at)
            dev.write(f"mark-{pos}".encode())
            print(f"mark-{pos} at device offset {at:#x}")


if __name__ == "__main__":
    main()
