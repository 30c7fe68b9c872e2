#!/usr/bin/env python3
"""The image benchmark's reference: the same work as ckpt's reader, done with
pycriu (CRIU's own decoder), timed inside this process after the imports.

    crit-bench.py DIR PID ADDR...   (addresses in hex; 4096 bytes read at each)

Prints one JSON line: {"open_ms", "read_ms", "vmas", "pages", "bytes"}.
"""
import json
import os
import sys
import time

from pycriu import images

PE_PARENT, PE_LAZY, PE_PRESENT = 1, 2, 4
PAGE = 4096


def load(path):
    with open(path, 'rb') as f:
        return images.load(f)


def nr_pages(entry):
    return entry.get('nr_pages') or entry.get('compat_nr_pages') or 0


def open_checkpoint(d):
    """Every process's VMAs with the count of dumped pages in each."""
    out = {}
    for p in load(os.path.join(d, 'pstree.img'))['entries']:
        pid = p['pid']
        vmas = load(os.path.join(d, 'mm-%d.img' % pid))['entries'][0]['vmas']
        pm = load(os.path.join(d, 'pagemap-%d.img' % pid))['entries']
        runs = [(e['vaddr'], nr_pages(e)) for e in pm[1:] if e.get('flags', PE_PRESENT) & (PE_PRESENT | PE_PARENT)]
        counted = []
        for v in vmas:
            start, end = int(v['start'], 0) if isinstance(v['start'], str) else v['start'], int(v['end'], 0) if isinstance(v['end'], str) else v['end']
            n = 0
            for vaddr, count in runs:
                lo, hi = max(start, vaddr), min(end, vaddr + count * PAGE)
                if hi > lo:
                    n += (hi - lo) // PAGE
            counted.append((start, end, n))
        out[pid] = (pm, counted)
    return out


def read_pages(d, pm, addrs):
    """4096 bytes at each address, found through the pagemap."""
    pages_file = os.path.join(d, 'pages-%d.img' % pm[0]['pages_id'])
    index, off = [], 0
    for e in pm[1:]:
        n = nr_pages(e)
        if e.get('flags', PE_PRESENT) & PE_PRESENT:
            index.append((e['vaddr'], e['vaddr'] + n * PAGE, off))
            off += n * PAGE
    total = 0
    with open(pages_file, 'rb') as f:
        for a in addrs:
            for start, end, base in index:
                if start <= a < end:
                    f.seek(base + a - start)
                    total += len(f.read(PAGE))
                    break
    return total


def main():
    d, pid, addrs = sys.argv[1], int(sys.argv[2]), [int(a, 16) for a in sys.argv[3:]]
    t0 = time.perf_counter()
    procs = open_checkpoint(d)
    t1 = time.perf_counter()
    got = read_pages(d, procs[pid][0], addrs)
    t2 = time.perf_counter()
    vmas = sum(len(c) for _, c in procs.values())
    pages = sum(n for _, c in procs.values() for _, _, n in c)
    print(json.dumps({'open_ms': (t1 - t0) * 1000, 'read_ms': (t2 - t1) * 1000, 'vmas': vmas, 'pages': pages, 'bytes': got}))


main()
