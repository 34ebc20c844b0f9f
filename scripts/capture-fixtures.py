#!/usr/bin/env python3
"""Capture golden distcc 3.4 wire transcripts for tests/protocol_fixtures.rs.

A man in the middle on 127.0.0.1 sits between the real `distcc` client and the real
`distccd` daemon. For each case it accepts the client's connection, reads one whole
request (parsing the token stream, because the client keeps its socket open while it
waits for the answer), saves the exact bytes, relays them to distccd, saves distccd's
exact answer (read to EOF: distccd closes after one job), and hands it back to the
client. The client must then succeed (or fail, for the syntax-error case) exactly as it
would without the relay, which checks that the relay did not disturb anything.

Usage:  python3 scripts/capture-fixtures.py [--out tests/fixtures]
Needs:  apt-get install -y distcc gcc
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(os.path.dirname(HERE), "tests", "fixtures")
TIMEOUT = 30


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, deadline):
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on 127.0.0.1:{port}")


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def read_token(sock, expected):
    raw = read_exact(sock, 12)
    if raw[:4] != expected:
        raise ValueError(f"expected {expected!r}, got {raw!r}")
    return raw, int(raw[4:], 16)


def read_request(sock):
    """DIST ARGC ARGV... DOTI (protocol 1 and 2 have the same token sequence)."""
    out, _version = read_token(sock, b"DIST")
    raw, argc = read_token(sock, b"ARGC")
    out += raw
    for _ in range(argc):
        raw, n = read_token(sock, b"ARGV")
        out += raw + read_exact(sock, n)
    raw, n = read_token(sock, b"DOTI")
    return out + raw + read_exact(sock, n)


def read_to_eof(sock):
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return buf
        buf += chunk


class Relay:
    """Accepts one client connection per case and relays it to distccd, recording both ways."""

    def __init__(self, daemon_port):
        self.daemon_port = daemon_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]

    def serve_one(self, result):
        try:
            client, _ = self.listener.accept()
            client.settimeout(TIMEOUT)
            with client:
                request = read_request(client)
                with socket.create_connection(("127.0.0.1", self.daemon_port), timeout=TIMEOUT) as d:
                    d.sendall(request)
                    # distccd reads exactly one request; we do not half-close, like distcc.
                    response = read_to_eof(d)
                client.sendall(response)
            result["request"], result["response"] = request, response
        except Exception as e:  # reported by the caller
            result["error"] = repr(e)


def run_case(relay, workdir, env, argv, expect_ok):
    result = {}
    t = threading.Thread(target=relay.serve_one, args=(result,))
    t.start()
    proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, timeout=TIMEOUT)
    t.join(TIMEOUT)
    if "error" in result or "request" not in result:
        sys.exit(f"relay failed for {argv}: {result.get('error')}\n{proc.stderr.decode()}")
    if (proc.returncode == 0) != expect_ok:
        sys.exit(f"{argv} exited {proc.returncode}, expected ok={expect_ok}:\n{proc.stderr.decode()}")
    return result, proc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=FIXTURES)
    args = ap.parse_args()
    for prog in ("distcc", "distccd", "gcc"):
        if not shutil.which(prog, path=os.environ.get("PATH", "") + ":/usr/sbin"):
            sys.exit(f"{prog} not found: apt-get install -y distcc gcc")

    tmp = tempfile.mkdtemp(prefix="distfarm-capture-")
    os.chmod(tmp, 0o755)
    work = os.path.join(tmp, "work")
    os.mkdir(work)
    for name in ("hello.c", "hello.h", "hello-error.c", "large.c"):
        shutil.copy(os.path.join(FIXTURES, name), work)

    daemon_port = free_port()
    daemon_log = open(os.path.join(tmp, "distccd.log"), "wb")
    # As root distccd drops to the `distcc` user (or nobody): its TMPDIR must be world-writable.
    # The C locale keeps gcc's diagnostics ASCII (no typographic quotes) in the error transcript.
    daemon_env = {"PATH": "/usr/bin:/bin", "TMPDIR": "/tmp", "LC_ALL": "C", "LANG": "C"}
    daemon = subprocess.Popen(
        ["distccd", "--daemon", "--no-detach", "--log-stderr", "--listen", "127.0.0.1",
         "-p", str(daemon_port), "--allow", "127.0.0.1", "--jobs", "1"],
        env=daemon_env, stdout=daemon_log, stderr=daemon_log,
        # Its own process group: distccd's SIGTERM handler signals its whole group.
        start_new_session=True)
    try:
        wait_for_port(daemon_port, time.monotonic() + TIMEOUT)
        relay = Relay(daemon_port)
        distcc_dir = os.path.join(tmp, "distcc-dir")
        os.mkdir(distcc_dir)
        base_env = {
            "PATH": "/usr/bin:/bin", "HOME": tmp, "DISTCC_DIR": distcc_dir, "LC_ALL": "C",
            "DISTCC_FALLBACK": "0", "DISTCC_SKIP_LOCAL_RETRY": "1", "TMPDIR": tmp,
        }
        cases = [
            ("v1", f"127.0.0.1:{relay.port}", "hello.c", True),
            ("v2", f"127.0.0.1:{relay.port},lzo", "hello.c", True),
            ("v1-compile-error", f"127.0.0.1:{relay.port}", "hello-error.c", False),
            ("v2-large", f"127.0.0.1:{relay.port},lzo", "large.c", True),
        ]
        for name, hosts, source, expect_ok in cases:
            obj = source.replace(".c", ".o")
            env = dict(base_env, DISTCC_HOSTS=hosts)
            argv = ["distcc", "gcc", "-O2", "-c", source, "-o", obj]
            result, proc = run_case(relay, work, env, argv, expect_ok)
            version, _, variant = name.partition("-")
            suffix = f"-{variant}" if variant else ""
            files = {f"distcc-3.4-{version}-request{suffix}.bin": result["request"],
                     f"distcc-3.4-{version}-response{suffix}.bin": result["response"]}
            if expect_ok:
                # The relayed object must be what a local compile produces.
                local = os.path.join(tmp, "local.o")
                subprocess.run(["gcc", "-O2", "-c", source, "-o", local], cwd=work, check=True,
                               env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
                with open(local, "rb") as a, open(os.path.join(work, obj), "rb") as b:
                    if a.read() != b.read():
                        sys.exit(f"{name}: the object distcc wrote differs from a local gcc -c")
                print(f"{name}: object identical to a local gcc -c")
            for fname, data in files.items():
                with open(os.path.join(args.out, fname), "wb") as f:
                    f.write(data)
                print(f"{name}: wrote {fname} ({len(data)} bytes)")
            if proc.stderr:
                print(f"{name}: distcc stderr: {proc.stderr.decode(errors='replace').strip()}")
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
        daemon_log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
