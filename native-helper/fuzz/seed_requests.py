#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_request and fuzz_frame: one Request of each
kind (proto/helper.proto), encoded by hand (the protobuf wire format is
small), valid ones and ones each check refuses. Run from native-helper/:
    python3 fuzz/seed_requests.py
It rewrites fuzz/corpus/request/ and fuzz/corpus/frame/."""
import os
import struct


def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, value):
    """An int (varint), bytes/str (length-delimited) or a list of either (repeated)."""
    if isinstance(value, list):
        return b"".join(field(num, v) for v in value)
    if isinstance(value, bool) or isinstance(value, int):
        return varint(num << 3) + varint(int(value))
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def msg(*fields):
    return b"".join(field(n, v) for n, v in fields)


CK = "20261207-044414-f797"
rule = msg((1, 3), (2, "pipe:[1]"), (3, 1))
dap = b'Content-Length: 2\r\n\r\n{}'
REQUESTS = {
    "hello": msg((1, 1), (10, b"")),
    "ps_tree": msg((1, 2), (11, msg((1, 1)))),
    "ps_negative": msg((1, 2), (11, msg((1, -4)))),
    "freeze_except": msg((1, 3), (12, msg((1, 4194000), (2, 100), (3, [5, 0]), (4, 1)))),
    "freeze_init": msg((1, 3), (12, msg((1, 1)))),
    "thaw": msg((1, 4), (13, msg((1, 4194000)))),
    "dump": msg((1, 5), (14, msg((1, 4194000), (2, "name"), (5, rule),
                                 (6, msg((1, 5), (2, 6), (3, "breakpoint"), (4, "main (a.c:3)")))))),
    "restore": msg((1, 6), (15, msg((1, CK), (2, 1)))),
    "list": msg((1, 7), (16, b"")),
    "delete": msg((1, 8), (17, msg((1, "../etc")))),
    "image_files": msg((1, 9), (18, msg((1, CK)))),
    "read_image": msg((1, 10), (19, msg((1, CK), (2, [msg((1, "pagemap-53.img"), (2, 0), (3, 64)),
                                                      msg((1, "pages-1.img"), (2, 4090), (3, 100)),
                                                      msg((1, "../x"), (3, 1))])))),
    "launch": msg((1, 11), (20, msg((1, "/bin/true"), (2, ["a"]), (3, "/tmp"), (4, ["A=1", "=x"])))),
    "kill": msg((1, 12), (21, msg((1, 1)))),
    "rename": msg((1, 13), (22, msg((1, CK), (2, "new\tname")))),
    "leaks": msg((1, 14), (23, msg((1, 4194000), (2, [rule, msg((1, 99))])))),
    "core": msg((1, 15), (24, msg((1, CK), (2, -1)))),
    "page_diff": msg((1, 16), (25, msg((1, CK), (2, "second")))),
    "gdb_send": msg((1, 17), (31, msg((1, 1), (2, dap + b"Content-Length: 9\r\n\r\n{")))),
    "gdb_stop": msg((1, 18), (32, msg((1, 1), (2, 1)))),
    "unknown_op": msg((1, 19), (99, b"")),
}


def write(dirname, name, data):
    os.makedirs(dirname, exist_ok=True)
    with open(os.path.join(dirname, name), "wb") as f:
        f.write(data)


def main():
    for name, data in REQUESTS.items():
        write("fuzz/corpus/request", name, data)
    # frames: the first byte is fuzz_frame's read size, then length-prefixed requests
    frames = b"".join(struct.pack("<I", len(d)) + d for d in REQUESTS.values())
    write("fuzz/corpus/frame", "all_requests_whole_reads", b"\x00" + frames)
    write("fuzz/corpus/frame", "two_requests_in_3_byte_reads", b"\x03" + frames[:60])
    write("fuzz/corpus/frame", "over_the_limit", b"\x00" + struct.pack("<I", 16 * 1024 * 1024 + 1) + b"xx")


if __name__ == "__main__":
    main()
