#!/usr/bin/env python3
"""The by-hand side of the benchmark of Restore to a breakpoint: what a user
does on the target to get a checkpointed program back under a debugger,
timed here, on the target, from the start of CRIU to gdb's stopped event.

    gdb-restore-bench.py CRIU GDB IMAGES WORK PID SOURCE LINE

1. `CRIU restore` of IMAGES, detached, left stopped (--leave-stopped), with
   the CRIU options the helper gives its own restores (log level 4, cgroups
   ignored), its log in WORK; then /proc/PID/status is read until the task
   shows stopped (it can read R for a moment).
2. A fresh `GDB -q -nx -i=dap`: initialize, attach {pid}, setBreakpoints
   (SOURCE:LINE), configurationDone, its stopped event.
Then, untimed: the restored process is killed (SIGKILL), gdb ended, and the
pid waited for until it is gone.

Prints one JSON line of milliseconds: {"total", "criu", "stopped", "gdb_start",
"attach", "kill"}: gdb_start is spawn to initialize's answer, attach the rest.
"""
import json
import os
import signal
import subprocess
import sys
import time


def ms(t0, t1):
    return (t1 - t0) / 1e6


class Dap:
    """DAP over a gdb's stdin and stdout."""

    def __init__(self, proc):
        self.proc = proc
        self.seq = 0

    def send(self, command, arguments):
        self.seq += 1
        body = json.dumps({'seq': self.seq, 'type': 'request', 'command': command, 'arguments': arguments}).encode()
        self.proc.stdin.write(b'Content-Length: %d\r\n\r\n' % len(body) + body)
        self.proc.stdin.flush()
        return self.seq

    def read(self):
        length = -1
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError('gdb ended')
            line = line.strip()
            if not line:
                break
            name, _, value = line.partition(b':')
            if name.strip().lower() == b'content-length':
                length = int(value)
        return json.loads(self.proc.stdout.read(length))

    def until(self, accept):
        while True:
            message = self.read()
            if message.get('type') == 'response' and not message.get('success', True):
                raise RuntimeError('gdb refused %s: %s' % (message.get('command'), message.get('message')))
            if accept(message):
                return message


def response_to(seq):
    return lambda m: m.get('type') == 'response' and m.get('request_seq') == seq


def state(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('State:'):
                    return line.split()[1]
    except (FileNotFoundError, ProcessLookupError):
        # gone, or going (its /proc entry read while it is reaped)
        return ''
    return ''


def main():
    criu, gdb, images, work, pid, source, line = sys.argv[1:8]
    pid, line = int(pid), int(line)
    if state(pid):
        raise SystemExit('pid %d is in use: it must be free for CRIU to restore it' % pid)
    t0 = time.perf_counter_ns()
    subprocess.run([criu, 'restore', '-D', images, '-W', work, '-d', '--leave-stopped', '-v4', '-o', 'restore.log',
                    '--manage-cgroups=ignore'], check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    t_criu = time.perf_counter_ns()
    while state(pid) not in ('T', 't'):
        if not state(pid):
            raise SystemExit('restored process %d is gone' % pid)
        time.sleep(0.0002)
    t_stopped = time.perf_counter_ns()
    with open(os.path.join(work, 'gdb.stderr'), 'wb') as err:
        proc = subprocess.Popen([gdb, '-q', '-nx', '-i=dap'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    dap = Dap(proc)
    try:
        dap.until(response_to(dap.send('initialize', {'adapterID': 'gdb', 'clientID': 'by-hand', 'linesStartAt1': True,
                                                      'columnsStartAt1': True, 'pathFormat': 'path'})))
        t_init = time.perf_counter_ns()
        # gdb answers attach only after configurationDone
        dap.send('attach', {'pid': pid})
        dap.until(response_to(dap.send('setBreakpoints', {'source': {'path': source}, 'breakpoints': [{'line': line}]})))
        dap.send('configurationDone', {})
        dap.until(lambda m: m.get('type') == 'event' and m.get('event') == 'stopped')
        t_end = time.perf_counter_ns()
    finally:
        t_kill = time.perf_counter_ns()
        os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait()
        while state(pid):
            time.sleep(0.001)
        t_gone = time.perf_counter_ns()
    print(json.dumps({'total': ms(t0, t_end), 'criu': ms(t0, t_criu), 'stopped': ms(t_criu, t_stopped),
                      'gdb_start': ms(t_stopped, t_init), 'attach': ms(t_init, t_end), 'kill': ms(t_kill, t_gone)}))


if __name__ == '__main__':
    main()
