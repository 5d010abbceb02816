"""serve_lib.py -- running `rlvr serve` in tests: start a server on a free
port (port 0, read back from --port-file), wait until /health answers,
make HTTP requests with timeouts, stop it with a signal and collect its
exit status and stderr. Every wait is bounded, so a broken server fails a
test instead of hanging it.
"""
import http.client
import json
import os
import signal
import subprocess
import tempfile
import time

from taplib import RLVR, PLUGINS, SRCDIR


class Server:
    def __init__(self, args, env=None, start_timeout=20):
        self.dir = tempfile.mkdtemp(prefix="rlvr-serve-test-")
        self.port_file = os.path.join(self.dir, "port")
        self.err_path = os.path.join(self.dir, "stderr")
        e = dict(os.environ)
        # Test plugins (serve_sleep) are found by name.
        e["RLVR_PLUGIN_PATH"] = PLUGINS + ((":" + e["RLVR_PLUGIN_PATH"]) if e.get("RLVR_PLUGIN_PATH") else "")
        if env:
            e.update(env)
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([RLVR, "serve", "--listen", "127.0.0.1:0", "--port-file", self.port_file] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=self.err, stderr=self.err, env=e)
        self.port = None
        deadline = time.time() + start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    text = f.read().strip()
                if text:
                    self.port = int(text)
                    break
            time.sleep(0.02)
        if self.port is None:
            self.stop()
            raise RuntimeError("rlvr serve did not start: " + self.stderr())
        self.url = "http://127.0.0.1:%d" % self.port

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=30, conn=None):
        """(status, headers dict (lower-case names), body bytes)."""
        c = conn or self.conn(timeout)
        if isinstance(body, str):
            body = body.encode()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            if conn is None:
                c.close()

    def json(self, method, path, obj=None, headers=None, timeout=30):
        body = None if obj is None else json.dumps(obj)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        st, hd, data = self.request(method, path, body, h, timeout)
        try:
            return st, hd, json.loads(data)
        except ValueError:
            return st, hd, data

    def score(self, samples, timeout=30, headers=None):
        """POST /score with JSONL; (status, results or body)."""
        body = "".join(json.dumps(s) + "\n" for s in samples)
        st, hd, data = self.request("POST", "/score", body, headers, timeout)
        if st != 200:
            return st, data
        return st, [json.loads(l) for l in data.decode().splitlines()]

    def metric(self, name, headers=None):
        """The sum of a metric's samples whose line starts with `name`."""
        st, hd, data = self.request("GET", "/metrics", headers=headers)
        total = 0.0
        for line in data.decode().splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def signal(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout=20):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def stop(self):
        self.signal(signal.SIGTERM)
        rc = self.wait()
        self.err.close()
        return rc

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def fixture(*parts):
    return os.path.join(SRCDIR, "fixtures", *parts)


def mix_path(name):
    return os.path.join(SRCDIR, "..", "lua", "examples", name)
