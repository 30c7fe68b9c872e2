#!/usr/bin/env python3
"""Writes the cmdline seeds of fuzz_proc (its selection byte 6): /proc/PID/cmdline
as the kernel gives it, valid ones and one a program rewrote. Run from
native-helper/:
    python3 fuzz/seed_parsers.py
It rewrites fuzz/corpus/proc/cmdline_*."""
import glob
import os

from seed_requests import write

CMDLINES = {
    # as the kernel gives /proc/PID/cmdline: each argument and its NUL
    "cmdline_shell": b"\x06sh\x00-c\x00while :; do sleep 1; done\x00two words\x00\x00",
    # a program that wrote its title over its arguments (setproctitle): no NUL at the end
    "cmdline_title": b"\x06postgres: checkpointer   ",
    "cmdline_kernel_thread": b"\x06",
}


def main():
    for f in glob.glob("fuzz/corpus/proc/cmdline_*"):
        os.remove(f)
    for name, data in CMDLINES.items():
        write("fuzz/corpus/proc", name, data)


if __name__ == "__main__":
    main()
