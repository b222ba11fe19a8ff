#!/usr/bin/env python3
"""Runs a command on a pseudo-terminal, as a user at a terminal would.

    ptyrun.py OUT [--answer WORD] [--first REGEX] [--limit SECONDS] -- CMD...

CMD's stdin, stdout and stderr are the terminal. Everything it writes goes to
OUT (raw bytes: colours, carriage returns). With --answer, WORD and a newline
are typed once the command asks ("... will be accepted: "). With --first, the
seconds from the start until REGEX first matched what it wrote go to
OUT.first ("never" when it did not). The exit status is CMD's; 124 when it
ran past --limit (default 30) seconds, and then it is killed: a command that
waits for an answer nobody gives fails the test instead of hanging it.
"""
import os
import pty
import re
import select
import signal
import sys
import time


def main():
    args = sys.argv[1:]
    out_path = args.pop(0)
    answer, first, limit = None, None, 30.0
    while args and args[0] != "--":
        opt = args.pop(0)
        if opt == "--answer":
            answer = args.pop(0)
        elif opt == "--first":
            first = re.compile(args.pop(0).encode())
        elif opt == "--limit":
            limit = float(args.pop(0))
        else:
            sys.exit("ptyrun: unknown option " + opt)
    cmd = args[1:]
    start = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    seen, first_at = b"", None
    while True:
        left = limit - (time.monotonic() - start)
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = 124
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the command closed the terminal (it exited)
            data = b""
        if not data:
            _, st = os.waitpid(pid, 0)
            status = os.waitstatus_to_exitcode(st)
            break
        seen += data
        if first is not None and first_at is None and first.search(seen):
            first_at = time.monotonic() - start
        if answer is not None and b"will be accepted: " in seen:
            os.write(fd, answer.encode() + b"\n")
            answer = None
    with open(out_path, "wb") as f:
        f.write(seen)
    if first is not None:
        with open(out_path + ".first", "w") as f:
            f.write("never\n" if first_at is None else "%.2f\n" % first_at)
    sys.exit(status if status >= 0 else 128 - status)


main()
