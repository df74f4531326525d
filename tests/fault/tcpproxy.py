#!/usr/bin/env python3
# tests/fault/tcpproxy.py - a fault-injecting TCP proxy for the fault tests.
#
# Usage: tcpproxy.py TARGET_PORT PORT_FILE MODE_FILE LOG_FILE
#
# Listens on 127.0.0.1 on a free port (written to PORT_FILE once it
# listens) and forwards every connection to 127.0.0.1:TARGET_PORT.  At each
# new connection it reads MODE_FILE (one line) and applies that mode to the
# connection for its whole life, so a test changes the fault between
# connections by rewriting the file:
#
#   pass               forward unchanged
#   cut N              forward the first N bytes client->server, then close
#                      both sides (an SSH session cut mid-upload)
#   hold N             forward the first N bytes client->server, then drop
#                      whatever the client sends (the session stalls
#                      mid-way until either end goes away: a killed sshd
#                      session or a killed client)
#   slow N SECS        forward the first N bytes server->client at once,
#                      then hold each further chunk SECS seconds (a server
#                      that is alive but answers slowly)
#
# LOG_FILE gets one line per connection when it ends:
#   conn ID MODE up BYTES down BYTES [cut]
# and "cut ID at BYTES" / "hold ID at BYTES" the moment the fault strikes
# (flushed), so a test can wait on it.  Diagnostics only; stdout stays silent.
#
# Trust boundary: none; test-only, bound to 127.0.0.1.
import os
import socket
import sys
import threading
import time

target = int(sys.argv[1])
port_file, mode_file, log_file = sys.argv[2], sys.argv[3], sys.argv[4]
lock = threading.Lock()


def log(line):
    with lock:
        with open(log_file, "a") as f:
            f.write(line + "\n")


def read_mode():
    try:
        with open(mode_file) as f:
            w = f.read().split()
    except OSError:
        w = []
    return w or ["pass"]


def shut(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


def handle(cid, cli):
    mode = read_mode()
    try:
        srv = socket.create_connection(("127.0.0.1", target), timeout=10)
        srv.settimeout(None)
    except OSError as e:
        log("conn %d connect failed: %s" % (cid, e))
        shut(cli)
        return
    st = {"up": 0, "down": 0, "cut": False}
    done = threading.Event()

    def up():
        limit = int(mode[1]) if mode[0] in ("cut", "hold") else None
        try:
            while True:
                b = cli.recv(16384)
                if not b:
                    break
                if limit is not None and st["up"] + len(b) >= limit:
                    k = limit - st["up"]
                    if k > 0:
                        srv.sendall(b[:k])
                    st["up"] += max(k, 0)
                    if mode[0] == "hold":
                        log("hold %d at %d" % (cid, st["up"]))
                        # Swallow the rest: the server never sees it, and
                        # the client's EOF still ends the connection.
                        while cli.recv(16384):
                            pass
                        break
                    st["cut"] = True
                    log("cut %d at %d" % (cid, st["up"]))
                    break
                srv.sendall(b)
                st["up"] += len(b)
        except OSError:
            pass
        done.set()

    def down():
        fast = int(mode[1]) if mode[0] == "slow" else None
        delay = float(mode[2]) if mode[0] == "slow" else 0
        try:
            while True:
                b = srv.recv(16384)
                if not b:
                    break
                if fast is not None and st["down"] >= fast:
                    time.sleep(delay)
                cli.sendall(b)
                st["down"] += len(b)
        except OSError:
            pass
        done.set()

    for fn in (up, down):
        threading.Thread(target=fn, daemon=True).start()
    done.wait()
    shut(cli)
    shut(srv)
    log("conn %d %s up %d down %d%s" % (cid, " ".join(mode), st["up"],
                                        st["down"], " cut" if st["cut"] else ""))


def main():
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, port_file)
    cid = 0
    while True:
        c, _ = ls.accept()
        cid += 1
        threading.Thread(target=handle, args=(cid, c), daemon=True).start()


if __name__ == "__main__":
    main()
