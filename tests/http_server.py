#!/usr/bin/env python3
"""http_server.py: the loopback HTTP server the download tests talk to (stdlib only).

Serves files under --root with Range support, plus fault injection chosen by a path
prefix, plus a small emulation of the Hugging Face hub. Binds 127.0.0.1 on a free port and
prints "PORT <n>" on stdout. Stops by itself after --timeout seconds, when its parent
process goes away (the test crashed), or on GET /_shutdown.

  /<path>                 the file root/<path> (Range: bytes=N- / N-M; 416 past the end)
  /cut/<path>             a request starting at byte 0 gets the full Content-Length but
                          only the first half of the body, then the connection is closed
  /stall/<path>           headers and 16 bytes, then silence (until --timeout)
  /flaky/<path>           the first request for each path answers 503
  /norange/<path>         Range headers are ignored (200, whole file)
  /api/models/<repo>      hub listing built from root/hub/<repo>/ (sub-folders included, as
                          "onnx/model.onnx"): sha, siblings with size, blobId (git blob
                          sha1) and lfs.sha256 for LFS files (*.safetensors, *.bin, *.model,
                          *.onnx, *.h5, *.msgpack, *.ot)
  /bare/api/models/<repo> the same without sizes and digests (clients must use headers)
  /<repo>/resolve/<rev>/<file>  LFS files: 302 to /cdn/<repo>/<file> with X-Linked-Etag
                          (sha256) and X-Linked-Size; others: 200, ETag = git sha1
  renamed repos           root/hub-aliases.json {"old": "org/new"}: /api/models/old/... and
                          /old/resolve/... answer 307 to the new name, as the hub does
  /_stats                 JSON: requests, bytes sent and Range headers per request path
"""
import argparse
import hashlib
import http.server
import json
import os
import re
import sys
import threading
import time

MODES = ("cut", "stall", "flaky", "norange", "bare")
LFS_SUFFIXES = (".safetensors", ".bin", ".model", ".onnx", ".h5", ".msgpack", ".ot")
STATS = {"requests": {}, "bytes": {}, "ranges": {}}
LOCK = threading.Lock()
FLAKY_SEEN = set()
STOP = threading.Event()


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    root = "."

    def log_message(self, fmt, *args):  # quiet
        pass

    def count(self, path, nbytes):
        with LOCK:
            STATS["bytes"][path] = STATS["bytes"].get(path, 0) + nbytes

    def send_json(self, obj, code=200):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self.handle_request(head=True)

    def do_GET(self):
        self.handle_request(head=False)

    def handle_request(self, head):
        full = self.path.split("?", 1)[0]
        if full == "/_stats":
            with LOCK:
                return self.send_json(STATS)
        if full == "/_shutdown":
            self.send_json({"ok": True})
            STOP.set()
            return
        with LOCK:
            STATS["requests"][full] = STATS["requests"].get(full, 0) + 1
            STATS["ranges"].setdefault(full, []).append(self.headers.get("Range") or "")
        parts = full.lstrip("/").split("/", 1)
        mode, rest = (parts[0], "/" + parts[1]) if parts[0] in MODES and len(parts) > 1 else ("", full)
        if mode == "flaky" and full not in FLAKY_SEEN:
            FLAKY_SEEN.add(full)
            return self.send_error(503, "try again")
        if rest.startswith("/api/models/"):
            if self.hub_renamed(rest[len("/api/models/"):], "/api/models/"):
                return
            return self.hub_api(rest[len("/api/models/"):], bare=(mode == "bare"))
        m = re.match(r"^/(.+)/resolve/([^/]+)/(.+)$", rest)
        if m:
            if self.hub_renamed(rest[1:], "/"):
                return
            return self.hub_resolve(m.group(1), m.group(3), full, head)
        if rest.startswith("/cdn/"):
            path = os.path.join(self.root, "hub", rest[len("/cdn/"):])
        else:
            path = os.path.join(self.root, rest.lstrip("/"))
        self.serve_file(path, full, mode, head)

    def hub_dir(self, repo):
        return os.path.join(self.root, "hub", repo)

    def hub_renamed(self, tail, prefix):
        """307 to the new name when tail starts with a renamed repo id (hub-aliases.json)."""
        path = os.path.join(self.root, "hub-aliases.json")
        aliases = json.load(open(path)) if os.path.isfile(path) else {}
        for old, new in aliases.items():
            if tail.startswith(old + "/"):
                query = self.path.split("?", 1)[1] if "?" in self.path else ""
                self.send_response(307)
                self.send_header("Location", prefix + new + tail[len(old):] + ("?" + query if query else ""))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
        return False

    def hub_api(self, repo, bare):
        repo = re.sub(r"/revision/.*$", "", repo)
        d = self.hub_dir(repo)
        if not os.path.isdir(d):
            return self.send_json({"error": "Repository not found"}, 404)
        siblings = []
        names = sorted(os.path.relpath(os.path.join(top, f), d)
                       for top, _, files in os.walk(d) for f in files)
        for name in names:
            data = open(os.path.join(d, name), "rb").read()
            s = {"rfilename": name}
            if not bare:
                s["size"] = len(data)
                s["blobId"] = git_blob_sha1(data)
                if name.endswith(LFS_SUFFIXES):
                    s["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                                "pointerSize": 134}
            siblings.append(s)
        self.send_json({"id": repo, "modelId": repo, "sha": "a" * 40, "siblings": siblings})

    def hub_resolve(self, repo, name, full, head):
        path = os.path.join(self.hub_dir(repo), name)
        if not os.path.isfile(path):
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = open(path, "rb").read()
        if name.endswith(LFS_SUFFIXES):
            self.send_response(302)
            self.send_header("Location", "/cdn/%s/%s" % (repo, name))
            self.send_header("X-Linked-Etag", '"%s"' % hashlib.sha256(data).hexdigest())
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("ETag", '"%s"' % git_blob_sha1(b"pointer"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.serve_file(path, full, "", head, etag=git_blob_sha1(data))

    def serve_file(self, path, full, mode, head, etag=None):
        if not os.path.isfile(path):
            return self.send_error(404, "no such file")
        data = open(path, "rb").read()
        size, start, end = len(data), 0, len(data) - 1
        rng = self.headers.get("Range")
        partial = False
        if rng and mode != "norange":
            m = re.match(r"bytes=(\d+)-(\d*)$", rng.strip())
            if m:
                start = int(m.group(1))
                if m.group(2):
                    end = min(int(m.group(2)), size - 1)
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                partial = True
        body = data[start:end + 1]
        self.send_response(206 if partial else 200)
        if partial:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", '"%s"' % etag)
        self.end_headers()
        if head:
            return
        try:
            if mode == "cut" and start == 0:
                half = body[: len(body) // 2]
                self.wfile.write(half)
                self.wfile.flush()
                self.count(full, len(half))
                self.close_connection = True
                return
            if mode == "stall":
                self.wfile.write(body[:16])
                self.wfile.flush()
                self.count(full, 16)
                STOP.wait()
                return
            self.wfile.write(body)
            self.count(full, len(body))
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()
    Handler.root = os.path.abspath(args.root)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print("PORT %d" % srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    parent = os.getppid()
    deadline = time.time() + args.timeout
    while not STOP.is_set() and time.time() < deadline and os.getppid() == parent:
        STOP.wait(0.2)
    STOP.set()
    srv.shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
