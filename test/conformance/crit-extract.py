#!/usr/bin/env python3
"""What CRIU's own decoder (pycriu, as `crit` uses it) finds in a checkpoint
directory, as one JSON document: the reference the image reader's
conformance test (test/integration/images-conformance.test.ts) compares the
project's checkpoint model with, field by field.

    crit-extract.py DIR [PID:ADDR:LEN | shmem:SHMID:OFFSET:LEN ...]

Runs on the target, where python3-pycriu is installed. Every image is
decoded with pycriu.images.load(); nothing of the project's reader is used.
Each PID:ADDR:LEN (ADDR in hex with 0x, or decimal) asks for LEN bytes of
process PID's memory, read THROUGH CRIU'S PAGEMAP: the pagemap-PID.img
entries covering the range, and for PE_PRESENT ones the bytes at their
offset in pages-<pages_id>.img, which is the sum of nr_pages * 4096 of the
PE_PRESENT entries before them in the pagemap (that arithmetic is done here,
independently of the TypeScript reader). shmem:SHMID:OFFSET:LEN reads a
shared memory object (SysV segment, memfd, shared anonymous memory) the same
way through pagemap-shmem-SHMID.img, whose addresses are offsets in the
object: CRIU keeps shared memory there, not in the processes' pagemaps.

Every integer of the output is a decimal string: JSON numbers above 2**53
(addresses, registers) would lose precision in JavaScript. Booleans stay
booleans, enums are pycriu's names (type "REG", ...).

Output:
  {"dir", "image_files": [names],
   "inventory": {"img_version", "root_ids": {...}, "ns_per_id"},
   "pstree": [{"pid", "ppid", "pgid", "sid", "threads": [...]}],
   "cores": {tid: {"tid", "mtype", "comm", "task_state"|null, "gpregs": {name: value},
                   "fpregs": bool, "xsave": bool,
                   "creds": {"uid", "gid", "euid", "egid", "groups"}|null}},
   "mm": {pid: {"mm_start_stack", "mm_arg_start", "mm_arg_end", "mm_env_start", "mm_env_end",
                "mm_start_brk", "mm_brk",
                "vmas": [{"start", "end", "pgoff", "shmid", "prot", "flags", "status"}]}},
   "pagemaps": {pid: {"pages_id", "count_field" (which field held the counts),
                      "pages_bytes" (the PE_PRESENT data), "pages_file_size" (of pages-<pages_id>.img),
                      "entries": [{"vaddr", "nr_pages", "flags", "pages_offset"|null}]}},
   "shmem_pagemaps": {shmid: same},
   "ids": {pid: {"files_id", "pid_ns_id", ...}},
   "fdinfo": {files_id: [{"fd", "id", "type", "flags"}]},
   "files": [{"id", "type", ...per type: "name", "pos", "flags" (REG), "pipe_id" (PIPE),
              "ino", "peer", "sk_type", "sk_name" (UNIXSK), "inode_id" (MEMFD),
              "counter" (EVENTFD), "tfds": [{"tfd", "events"}] (EVENTPOLL),
              "wd_paths": [...] (INOTIFY), "src_port", "dst_port", "state" (INETSK)}],
   "memfd": [{"inode_id", "name", "size", "shmid"}],
   "stats_dump": {...dump stats},
   "utsns": {id: {"nodename", "domainname"}},
   "ipcns_shm": {id: [{"key", "id", "size"}]},
   "reads": [{"pid" (or "shmid"), "addr", "len", "hex": str with "??" for absent bytes,
              "segments": [{"addr", "len", "hex"|null, "why"}]}]}
"""
import json
import os
import re
import sys

from pycriu import images

PAGE = 4096
PE_PARENT, PE_LAZY, PE_PRESENT = 1, 2, 4


def load(directory, name):
    with open(os.path.join(directory, name), 'rb') as f:
        # no_payload: extra blobs (pipe data, socket queues, shm contents) are skipped
        return images.load(f, pretty=False, no_payload=True)


def entries(directory, name):
    return load(directory, name)['entries']


def stringify(value):
    """Every int (not bool) as a decimal string, recursively."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {str(k): stringify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stringify(v) for v in value]
    return value


def numbered(files, pattern):
    """{N: name} of the image files matching pattern (one int group)."""
    out = {}
    for name in files:
        m = re.fullmatch(pattern, name)
        if m:
            out[int(m.group(1))] = name
    return out


def pick(d, *keys):
    return {k: d[k] for k in keys if k in d}


# ---- pagemaps and the offset arithmetic ------------------------------------

def page_count(e):
    """The run's page count: CRIU 4.2 writes field 5 (nr_pages) and 0 in field 2
    (compat_nr_pages); older CRIU writes field 2, which this pycriu may call
    nr_pages or compat_nr_pages."""
    for key in ('nr_pages', 'compat_nr_pages'):
        if e.get(key):
            return e[key]
    return 0


def run_flags(e):
    """As CRIU reads old images: no flags field means in_parent ? PE_PARENT : PE_PRESENT."""
    if 'flags' in e:
        return e['flags']
    return PE_PARENT if e.get('in_parent') else PE_PRESENT


def load_pagemap(directory, name):
    raw = entries(directory, name)
    head, runs = raw[0], raw[1:]
    field = None
    out = []
    offset = 0
    for e in runs:
        for key in ('nr_pages', 'compat_nr_pages'):
            if e.get(key):
                field = field or key
        n = page_count(e)
        flags = run_flags(e)
        run = {'vaddr': e['vaddr'], 'nr_pages': n, 'flags': flags, 'pages_offset': None}
        if flags & PE_PRESENT and not flags & PE_PARENT:
            run['pages_offset'] = offset
            offset += n * PAGE
        out.append(run)
    pages = os.path.join(directory, 'pages-%d.img' % head['pages_id'])
    size = os.path.getsize(pages) if os.path.exists(pages) else None
    return {'pages_id': head['pages_id'], 'count_field': field, 'entries': out, 'pages_bytes': offset, 'pages_file_size': size}


def read_memory(directory, pagemap, addr, length):
    """Segments of [addr, addr+length): bytes where a PE_PRESENT run covers them, else None and why."""
    pages = os.path.join(directory, 'pages-%d.img' % pagemap['pages_id'])
    runs = sorted(pagemap['entries'], key=lambda r: r['vaddr'])
    segments = []
    at, end = addr, addr + length
    with open(pages, 'rb') as f:
        while at < end:
            run = next((r for r in runs if r['vaddr'] <= at < r['vaddr'] + r['nr_pages'] * PAGE), None)
            if run is None:
                following = [r['vaddr'] for r in runs if r['vaddr'] > at]
                stop = min([end] + following)
                segments.append({'addr': at, 'len': stop - at, 'hex': None, 'why': 'no-pagemap-entry'})
                at = stop
                continue
            stop = min(end, run['vaddr'] + run['nr_pages'] * PAGE)
            if run['pages_offset'] is None:
                why = 'parent' if run['flags'] & PE_PARENT else 'lazy' if run['flags'] & PE_LAZY else 'flags-%d' % run['flags']
                segments.append({'addr': at, 'len': stop - at, 'hex': None, 'why': why})
            else:
                f.seek(run['pages_offset'] + (at - run['vaddr']))
                data = f.read(stop - at)
                if len(data) != stop - at:
                    raise SystemExit('%s ends before offset %d' % (pages, run['pages_offset'] + (at - run['vaddr']) + stop - at))
                segments.append({'addr': at, 'len': stop - at, 'hex': data.hex(), 'why': 'present'})
            at = stop
    # neighbouring absent segments with the same reason become one
    merged = []
    for s in segments:
        if merged and merged[-1]['hex'] is None and s['hex'] is None and merged[-1]['why'] == s['why']:
            merged[-1]['len'] += s['len']
        else:
            merged.append(s)
    flat = ''.join(s['hex'] if s['hex'] is not None else '??' * s['len'] for s in merged)
    return {'hex': flat, 'segments': merged}


# ---- the images --------------------------------------------------------------

def core_of(directory, name, tid):
    core = entries(directory, name)[0]
    tc = core.get('tc', {})
    thread_core = core.get('thread_core', {})
    info = core.get('thread_info', {})
    fpregs = info.get('fpregs')
    return {
        'tid': tid,
        'mtype': core.get('mtype'),
        'comm': tc.get('comm', thread_core.get('comm')),
        'task_state': tc.get('task_state'),
        'gpregs': info.get('gpregs', {}),
        'fpregs': fpregs is not None,
        'xsave': fpregs is not None and 'xsave' in fpregs,
        'creds': pick(thread_core['creds'], 'uid', 'gid', 'euid', 'egid', 'groups') if 'creds' in thread_core else None,
    }


def mm_of(directory, name):
    mm = entries(directory, name)[0]
    out = pick(mm, 'mm_start_stack', 'mm_arg_start', 'mm_arg_end', 'mm_env_start', 'mm_env_end', 'mm_start_brk', 'mm_brk')
    out['vmas'] = [{k: v.get(k, 0) for k in ('start', 'end', 'pgoff', 'shmid', 'prot', 'flags', 'status')} for v in mm.get('vmas', [])]
    return out


def file_of(e):
    """The fields of one files.img entry that the model shows."""
    out = {'id': e['id'], 'type': e['type']}
    if 'reg' in e:
        out.update(pick(e['reg'], 'name', 'pos', 'flags'))
    if 'pipe' in e:
        out['pipe_id'] = e['pipe']['pipe_id']
    if 'usk' in e:
        u = e['usk']
        out.update({'ino': u['ino'], 'peer': u.get('peer', 0), 'sk_type': u['type'], 'sk_name': u.get('name', '')})
    if 'memfd' in e:
        out['inode_id'] = e['memfd']['inode_id']
        out['pos'] = e['memfd'].get('pos', 0)
    if 'efd' in e:
        out['counter'] = e['efd']['counter']
    if 'epfd' in e:
        out['tfds'] = [pick(t, 'tfd', 'events', 'data') for t in e['epfd'].get('tfd', [])]
    if 'ify' in e:
        out['wd_paths'] = [w.get('f_handle', {}).get('path') for w in e['ify'].get('wd', [])]
        out['wds'] = [w['wd'] for w in e['ify'].get('wd', [])]
    if 'isk' in e:
        out.update(pick(e['isk'], 'src_port', 'dst_port', 'state', 'proto', 'family'))
    return out


def parse_request(text):
    """PID:ADDR:LEN, or shmem:SHMID:OFFSET:LEN (a shared memory object's pagemap-shmem-SHMID.img)."""
    parts = text.split(':')
    if len(parts) == 4 and parts[0] == 'shmem':
        return 'shmem', int(parts[1]), int(parts[2], 0), int(parts[3], 0)
    if len(parts) != 3:
        raise SystemExit('bad read request %r: PID:ADDR:LEN or shmem:SHMID:OFFSET:LEN' % text)
    return 'pid', int(parts[0]), int(parts[1], 0), int(parts[2], 0)


def main():
    if len(sys.argv) < 2:
        raise SystemExit('usage: crit-extract.py DIR [PID:ADDR:LEN ...]')
    d = sys.argv[1]
    files = sorted(os.listdir(d))
    out = {'dir': d, 'image_files': files}

    inv = entries(d, 'inventory.img')[0]
    out['inventory'] = pick(inv, 'img_version', 'root_ids', 'ns_per_id')
    out['pstree'] = [{'pid': p['pid'], 'ppid': p.get('ppid', 0), 'pgid': p.get('pgid', 0), 'sid': p.get('sid', 0),
                      'threads': p.get('threads', [])} for p in entries(d, 'pstree.img')]
    out['cores'] = {tid: core_of(d, name, tid) for tid, name in numbered(files, r'core-(\d+)\.img').items()}
    out['mm'] = {pid: mm_of(d, name) for pid, name in numbered(files, r'mm-(\d+)\.img').items()}
    pagemaps = {pid: load_pagemap(d, name) for pid, name in numbered(files, r'pagemap-(\d+)\.img').items()}
    out['pagemaps'] = pagemaps
    out['shmem_pagemaps'] = {shmid: load_pagemap(d, name) for shmid, name in numbered(files, r'pagemap-shmem-(\d+)\.img').items()}
    out['ids'] = {pid: entries(d, name)[0] for pid, name in numbered(files, r'ids-(\d+)\.img').items()}
    out['fdinfo'] = {fid: [pick(e, 'fd', 'id', 'type', 'flags') for e in entries(d, name)]
                     for fid, name in numbered(files, r'fdinfo-(\d+)\.img').items()}
    out['files'] = [file_of(e) for e in entries(d, 'files.img')] if 'files.img' in files else []
    out['memfd'] = [pick(e, 'inode_id', 'name', 'size', 'shmid') for e in entries(d, 'memfd.img')] if 'memfd.img' in files else []
    out['stats_dump'] = entries(d, 'stats-dump')[0].get('dump') if 'stats-dump' in files else None
    out['utsns'] = {i: pick(entries(d, name)[0], 'nodename', 'domainname') for i, name in numbered(files, r'utsns-(\d+)\.img').items()}
    out['ipcns_shm'] = {i: [{'key': e['desc']['key'], 'id': e['desc']['id'], 'size': e['size']} for e in entries(d, name)]
                        for i, name in numbered(files, r'ipcns-shm-(\d+)\.img').items()}

    reads = []
    for text in sys.argv[2:]:
        kind, key, addr, length = parse_request(text)
        maps = pagemaps if kind == 'pid' else out['shmem_pagemaps']
        if key not in maps:
            raise SystemExit('no pagemap-%s%d.img in %s' % ('' if kind == 'pid' else 'shmem-', key, d))
        r = read_memory(d, maps[key], addr, length)
        reads.append({('pid' if kind == 'pid' else 'shmid'): key, 'addr': addr, 'len': length, **r})
    out['reads'] = reads

    json.dump(stringify(out), sys.stdout, sort_keys=True)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
