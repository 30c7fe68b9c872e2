#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_tcp_saved, fuzz_lazy and fuzz_freeze_claim,
and the cmdline seeds of fuzz_proc (its selection byte 6): the files the
helper writes or reads, in the formats the writers use (CRIU's files.img and
tcp-stream images as CRIU 4.1 writes them, proto/criu-images.proto; the
supervisor's lazy-pages.status and lock files, lazy_supervisor.c and lazy.c;
the claims of freeze_claim.c; /proc/PID/cmdline as the kernel gives it), valid
ones and ones cut short. Run from native-helper/:
    python3 fuzz/seed_parsers.py
It rewrites fuzz/corpus/{tcp_saved,lazy,freeze_claim}/ and fuzz/corpus/proc/cmdline_*."""
import glob
import os
import shutil
import socket
import struct

from seed_requests import msg, write

AF_INET, AF_INET6 = 2, 10
IPPROTO_TCP, IPPROTO_UDP = 6, 17
TCP_ESTABLISHED, TCP_LISTEN = 1, 10
FILE_TYPE_REG, FILE_TYPE_INETSK = 1, 4
FILES_MAGICS = struct.pack("<II", 0x54564319, 0x56303138)
TCP_STREAM_MAGICS = struct.pack("<II", 0x54564319, 0x51465506)


def image(magics, *entries):
    """An image as CRIU writes one: its magics, then each entry after its u32 little-endian length."""
    return magics + b"".join(struct.pack("<I", len(e)) + e for e in entries)


def words(family, text):
    """An address as InetSocket's repeated uint32 holds it: network-order bytes read as little-endian words."""
    raw = socket.inet_pton(family, text)
    return list(struct.unpack("<%dI" % (len(raw) // 4), raw))


def inet_entry(family, src, sport, dst, dport, ino, proto=IPPROTO_TCP, state=TCP_ESTABLISHED):
    """A FileEntry (files.img) of an inet socket, fields as CRIU's InetSkEntry."""
    isk = msg((1, ino), (2, ino), (3, family), (4, 1), (5, proto), (6, state), (7, sport), (8, dport),
              (11, words(family, src)), (12, words(family, dst)))
    return msg((1, FILE_TYPE_INETSK), (2, ino), (4, isk))


def tcp_stream(inq_seq, outq_seq, inq=b""):
    """A tcp-stream image: its entry, then the bytes of its receive queue (CRIU's queue data follows the entry)."""
    entry = msg((1, len(inq)), (2, inq_seq), (3, 0), (4, outq_seq), (5, 3), (7, 65495))
    return image(TCP_STREAM_MAGICS, entry) + inq


def tcp_input(ino, resource, stream, files):
    """fuzz_tcp_saved's input: the stream's inode, the report's resource, the stream image, files.img."""
    r = resource.encode()
    return struct.pack("<IH", ino, len(r)) + r + struct.pack("<I", len(stream)) + stream + files


V4 = (AF_INET, "127.0.0.1", 41234, "127.0.0.1", 8080)
V6 = (AF_INET6, "::1", 443, "2001:db8::1", 51000)
V4_NAME = "tcp 127.0.0.1:41234 -> 127.0.0.1:8080"
V6_NAME = "tcp [::1]:443 -> [2001:db8::1]:51000"
REG = msg((1, FILE_TYPE_REG), (2, 1), (3, msg((1, 1), (2, 0), (3, 0), (5, "/dev/null"))))


def tcp_seeds():
    others = [REG, inet_entry(AF_INET, "0.0.0.0", 8080, "0.0.0.0", 0, 0x30, state=TCP_LISTEN),
              inet_entry(AF_INET, "127.0.0.1", 5353, "127.0.0.1", 53, 0x31, proto=IPPROTO_UDP)]
    v4 = inet_entry(*V4, 0x5f3e2)
    v6 = inet_entry(*V6, 0xffffffff)
    return {
        "v4_saved": tcp_input(0x5f3e2, V4_NAME, tcp_stream(0x1c2d3e4f, 0x99887766), image(FILES_MAGICS, *others, v4)),
        "v6_saved": tcp_input(0xffffffff, V6_NAME, tcp_stream(1, 0xffffffff), image(FILES_MAGICS, REG, v6)),
        "v4_queued_data": tcp_input(0x5f3e2, V4_NAME, tcp_stream(7, 8, b"hello"), image(FILES_MAGICS, v4)),
        "not_in_report": tcp_input(0x5f3e2, "tcp 127.0.0.1:1 -> 127.0.0.1:2", tcp_stream(1, 2),
                                   image(FILES_MAGICS, *others, v4)),
        "stream_cut_short": tcp_input(0x5f3e2, V4_NAME, tcp_stream(5, 6)[:14], image(FILES_MAGICS, v4)),
        "files_cut_short": tcp_input(0x5f3e2, V4_NAME, tcp_stream(5, 6), image(FILES_MAGICS, REG, v4)[:-3]),
    }


LAZY = {
    # lazy-pages.status as keep_logs writes it: how the daemon ended, then the pids the supervisor killed
    "status_exit": b"\x00ended with exit status 1\nkilled: 4242 4243 4250\n",
    "status_signal": b"\x00was killed by signal 9 (Killed)\nkilled:\n",
    "status_timeout": b"\x00did not finish in 600 s and was killed\nkilled: 77",
    "status_ok": b"\x00ok\nkilled:\n",
    # a busy lock file: the checkpoint's pids, a line each (take_lock)
    "lock_pids": b"\x011\n4194304\n2147483647\n",
    "lock_other": b"\x0112\n13\n",
}

CLAIMS = {
    # freeze_claim_take's "<layout>\n<cgroup>\n" (CGL(V2) is 2)
    "freeze_v2": b"2\n/sys/fs/cgroup/user.slice/checkpoint-freeze-4242\n",
    "freeze_v1": b"1\n/sys/fs/cgroup/freezer/checkpoint-freeze-77\n",
    # stop_claim_take's before CRIU ran, stop_claim_settle's after, released_claim_add's
    "stop_unsettled": b"stopped\nsince 5339001\n4242\n4243\n",
    "stop_settled": b"stopped\nsince 5339001\n4242 5339010\n4243 5339012\n",
    "stop_cut_short": b"stopped\nsince 5339001\n4242 53",
}

CMDLINES = {
    # as the kernel gives /proc/PID/cmdline: each argument and its NUL
    "cmdline_shell": b"\x06sh\x00-c\x00while :; do sleep 1; done\x00two words\x00\x00",
    # a program that wrote its title over its arguments (setproctitle): no NUL at the end
    "cmdline_title": b"\x06postgres: checkpointer   ",
    "cmdline_kernel_thread": b"\x06",
}


def main():
    for d in ("tcp_saved", "lazy", "freeze_claim"):
        shutil.rmtree("fuzz/corpus/" + d, ignore_errors=True)
    for f in glob.glob("fuzz/corpus/proc/cmdline_*"):
        os.remove(f)
    for name, data in tcp_seeds().items():
        write("fuzz/corpus/tcp_saved", name, data)
    for name, data in LAZY.items():
        write("fuzz/corpus/lazy", name, data)
    for name, data in CLAIMS.items():
        write("fuzz/corpus/freeze_claim", name, data)
    for name, data in CMDLINES.items():
        write("fuzz/corpus/proc", name, data)


if __name__ == "__main__":
    main()
