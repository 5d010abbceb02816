"""rlvr_client.py -- a client of `rlvr serve` in Python's standard library.

    from rlvr_client import Client
    c = Client("http://10.0.0.5:8400,http://10.0.0.6:8400")   # or $RLVR_SERVE_URL
    results = c.score([{"completion": "...", "answer": "42"}])  # as `rlvr score` writes them
    out = c.get_reward(queries, prompts, labels)                # OpenRLHF's protocol

Several servers scale out: a batch is cut into one contiguous shard per
server (never inside a run of samples with one `group`), the shards are sent
in parallel, and the answers are joined in order. A server that answers 503
(its queue is full) is asked again after its Retry-After; a server that
cannot be reached is skipped for the next one, so one server down slows a
step but does not stop it. Each thread keeps one keep-alive connection per
server. The token is read from $RLVR_SERVE_TOKEN unless given. Every call
has a timeout; an answer other than 200 after the retries raises
RlvrError with the server's message.
"""
import http.client
import json
import os
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

DEFAULT_URL = "http://127.0.0.1:8400"


class RlvrError(RuntimeError):
    pass


def _split_urls(urls):
    if urls is None:
        urls = os.environ.get("RLVR_SERVE_URL", DEFAULT_URL)
    if isinstance(urls, str):
        urls = [u for u in urls.replace(";", ",").split(",")]
    urls = [u.strip().rstrip("/") for u in urls if u and u.strip()]
    if not urls:
        raise ValueError("no rlvr server URL given")
    return urls


def shard_bounds(n, parts, key=None):
    """Cut [0, n) into at most `parts` contiguous slices of near-equal size;
    with key(i) given, a cut moves forward to where key changes (a group is
    never split). Returns [(lo, hi), ...], empty slices dropped."""
    parts = max(1, min(parts, n)) if n else 1
    bounds, lo = [], 0
    for p in range(1, parts + 1):
        hi = n if p == parts else max(lo, (n * p) // parts)
        if key is not None:
            while 0 < hi < n and key(hi) is not None and key(hi) == key(hi - 1):
                hi += 1
        if hi > lo:
            bounds.append((lo, hi))
            lo = hi
    if lo < n:
        bounds.append((lo, n))
    return bounds


class Client:
    def __init__(self, urls=None, token=None, timeout=600.0, retries=8):
        self.urls = _split_urls(urls)
        self.token = token if token is not None else os.environ.get("RLVR_SERVE_TOKEN") or None
        self.timeout = timeout
        self.retries = retries
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.urls)))

    # -- HTTP -------------------------------------------------------------------
    def _conn(self, url):
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        c = conns.get(url)
        if c is None:
            u = urllib.parse.urlsplit(url)
            cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
            c = conns[url] = cls(u.hostname, u.port or (443 if u.scheme == "https" else 80), timeout=self.timeout)
        return c

    def _drop(self, url):
        c = getattr(self._local, "conns", {}).pop(url, None)
        if c is not None:
            c.close()

    def post(self, path, body, content_type, first=0):
        """POST to the servers, starting at self.urls[first]: (url, bytes)."""
        headers = {"Content-Type": content_type}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        last = None
        for attempt in range(self.retries):
            url = self.urls[(first + attempt) % len(self.urls)]
            prefix = urllib.parse.urlsplit(url).path
            try:
                c = self._conn(url)
                c.request("POST", prefix + path, body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self._drop(url)
            except (OSError, http.client.HTTPException) as e:
                self._drop(url)
                last = "%s: %s" % (url, e)
                time.sleep(min(2.0, 0.05 * 2 ** attempt))
                continue
            if r.status == 200:
                return url, data
            try:
                msg = json.loads(data)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                msg = data[:300].decode("utf-8", "replace")
            last = "%s: HTTP %d: %s" % (url, r.status, msg)
            if r.status == 503:
                try:
                    wait = float(r.getheader("Retry-After", "1"))
                except ValueError:
                    wait = 1.0
                time.sleep(min(wait, 30.0))
                continue
            raise RlvrError(last)  # a 4xx or a timeout will not get better by retrying
        raise RlvrError("no rlvr server answered: " + str(last))

    def _sharded(self, n, key, send):
        bounds = shard_bounds(n, len(self.urls), key)
        if len(bounds) == 1:
            return [send(bounds[0][0], bounds[0][1], 0)]
        futs = [self._pool.submit(send, lo, hi, k) for k, (lo, hi) in enumerate(bounds)]
        return [f.result() for f in futs]

    # -- rlvr's batch endpoint --------------------------------------------------------
    def score(self, samples):
        """Results of POST /score for a list of sample dicts, in order."""
        samples = list(samples)
        if not samples:
            return []

        def send(lo, hi, k):
            body = "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples[lo:hi]).encode("utf-8")
            _, data = self.post("/score", body, "application/x-ndjson", k)
            return [json.loads(line) for line in data.decode("utf-8").splitlines()]

        def key(i):
            g = samples[i].get("group") if isinstance(samples[i], dict) else None
            return None if g is None else json.dumps(g)

        out = []
        for part in self._sharded(len(samples), key, send):
            out.extend(part)
        return out

    # -- OpenRLHF's protocol ----------------------------------------------------------
    def get_reward(self, queries, prompts=None, labels=None):
        """POST /get_reward: {"rewards", "scores", "extra_logs"} for the batch."""
        queries = list(queries)
        n = len(queries)
        prompts = None if prompts is None else list(prompts)
        labels = None if labels is None else list(labels)

        def send(lo, hi, k):
            req = {"query": queries[lo:hi]}
            if prompts is not None:
                req["prompts"] = prompts[lo:hi]
            if labels is not None:
                req["labels"] = labels[lo:hi]
            _, data = self.post("/get_reward", json.dumps(req, ensure_ascii=False).encode("utf-8"), "application/json", k)
            return json.loads(data)

        key = (lambda i: prompts[i]) if prompts is not None else None
        parts = self._sharded(n, key, send) if n else [send(0, 0, 0)]
        out = {"rewards": [], "scores": [], "extra_logs": {}}
        for p in parts:
            out["rewards"].extend(p["rewards"])
            out["scores"].extend(p["scores"])
            for k, v in p["extra_logs"].items():
                out["extra_logs"].setdefault(k, []).extend(v)
        return out

    def close(self):
        for c in getattr(self._local, "conns", {}).values():
            c.close()
        self._local.conns = {}
        self._pool.shutdown(wait=False)


def reward_of(result, abstain_value=None):
    """The reward of one result, or abstain_value when it is null."""
    r = result.get("reward")
    return abstain_value if r is None else r
