#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_lazy and fuzz_freeze_claim, and the cmdline
seeds of fuzz_proc (its selection byte 6): the files the helper writes or
reads, in the formats the writers use (the supervisor's lazy-pages.status and
lock files, lazy_supervisor.c and lazy.c; the claims of freeze_claim.c;
/proc/PID/cmdline as the kernel gives it), valid ones and ones cut short. Run
from native-helper/:
    python3 fuzz/seed_parsers.py
It rewrites fuzz/corpus/{lazy,freeze_claim}/ and fuzz/corpus/proc/cmdline_*."""
import glob
import os
import shutil

from seed_requests import write

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
    for d in ("lazy", "freeze_claim"):
        shutil.rmtree("fuzz/corpus/" + d, ignore_errors=True)
    for f in glob.glob("fuzz/corpus/proc/cmdline_*"):
        os.remove(f)
    for name, data in LAZY.items():
        write("fuzz/corpus/lazy", name, data)
    for name, data in CLAIMS.items():
        write("fuzz/corpus/freeze_claim", name, data)
    for name, data in CMDLINES.items():
        write("fuzz/corpus/proc", name, data)


if __name__ == "__main__":
    main()
