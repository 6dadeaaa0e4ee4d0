#!/usr/bin/env python3
"""A small OCI distribution registry for the pull tests, serving OCI layouts.

Usage:
  fakereg.py --port PORT [--tls CERT KEY] --repo NAME=LAYOUTDIR [--repo ...]
             [--mode MODE]... [--token] [--basic USER:PASS] [--ready FILE]

Listens on 127.0.0.1:PORT, HTTP/1.1, plain or TLS. Each --repo serves the
OCI image layout LAYOUTDIR as repository NAME (which may contain slashes).
A descriptor in the layout's index.json with the annotation
org.opencontainers.image.ref.name is a tag; with none, the first
descriptor is the tag "latest".

Endpoints:
  GET /v2/                                      200 {}
  GET|HEAD /v2/NAME/manifests/TAG|sha256:HEX    the manifest or index
  GET|HEAD /v2/NAME/blobs/sha256:HEX            a blob
  GET|HEAD /blobstore/sha256:HEX                any repository's blob, no auth
  GET /token?service=fakereg&scope=...          a bearer token (--token)
Unknown names, tags and blobs get 404 with a JSON "errors" body. Every
request appends "METHOD PATH STATUS" to stderr (PATH as a full URL for
the 127.0.0.2 listener of redirect-other). --ready FILE is written
("ok") once the server listens. SIGTERM ends the server with status 0.

Authentication:
  --token        every /v2/ request needs "Authorization: Bearer T", with T
                 from /token; T only covers the repositories of its scope.
  --basic U:P    with --token: /token needs Basic U:P. Alone: every /v2/
                 request needs Basic U:P.

Modes (--mode, repeatable). A layer is a blob that some manifest lists in
"layers". The modes change GET answers only, except error-500:
  corrupt-blob         layers with their first byte inverted
  corrupt-manifest     manifests fetched by tag with one more space before
                       the last "}" (the digest header stays the true one)
  big-manifest         manifests with 5 MiB of spaces before the last "}"
  stall-blob           layers: the headers and 100 bytes, then 600 s of
                       silence with the connection held open
  short-blob           layers: half the bytes of the announced length, then
                       the connection closes
  long-blob            layers: the true bytes and 1 MiB of zeros more, all
                       announced in Content-Length
  redirect-other       layers: 307 to the same path on 127.0.0.2:PORT, where
                       a second listener serves layers without credentials
                       and answers 400 to a request that carries an
                       Authorization header (as a presigned URL store does)
  redirect-same        layers: 307 to the relative /blobstore/sha256:HEX
  wrong-digest-header  manifests with Docker-Content-Digest sha256("other")
  error-500            every GET or HEAD of /v2/NAME/... answers 500
The layer modes (corrupt, stall, short, long) also apply to layers fetched
through /blobstore/ and through the 127.0.0.2 listener.
"""
import argparse
import base64
import binascii
import hashlib
import http.server
import json
import os
import re
import signal
import ssl
import sys
import threading
import time
import urllib.parse

MODES = ("corrupt-blob", "corrupt-manifest", "big-manifest", "stall-blob",
         "short-blob", "long-blob", "redirect-other", "redirect-same",
         "wrong-digest-header", "error-500")
DEFAULT_MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
MIB = 1024 * 1024
OTHER_DIGEST = "sha256:" + hashlib.sha256(b"other").hexdigest()

DIGEST_RE = re.compile(r"^sha256:([0-9a-f]{64})$")
V2_RE = re.compile(r"^/v2/(.+)/(manifests|blobs)/([^/]+)$")
BLOBSTORE_RE = re.compile(r"^/blobstore/(sha256:[0-9a-f]{64})$")

LOG_LOCK = threading.Lock()


def pad_json(body, filler):
    """BODY with FILLER inserted before its last "}", so it still parses."""
    i = body.rfind(b"}")
    return body[:i] + filler + body[i:] if i >= 0 else body + filler


class Layout:
    """One OCI image layout: its tags, manifests and layers."""
    def __init__(self, path):
        self.path = path
        self.tags = {}        # tag -> its descriptor in index.json
        self.manifests = {}   # digest of a manifest or index -> media type
        self.layers = set()   # digests listed in some manifest's "layers"
        with open(os.path.join(path, "index.json"), "rb") as f:
            index = json.load(f)
        descs = [d for d in index.get("manifests", []) if isinstance(d, dict)]
        for d in descs:
            name = (d.get("annotations") or {}).get(REF_NAME)
            if name is not None:
                # A full reference ("host/repo:tag") names the tag after its
                # last colon; a tag itself never contains one.
                self.tags.setdefault(name.rsplit(":", 1)[-1], d)
        if not self.tags and descs:
            self.tags["latest"] = descs[0]
        self.walk(descs, 0)

    def walk(self, descs, depth):
        """Record the manifests and layers reachable from DESCS."""
        for d in descs:
            digest = d.get("digest")
            if depth > 8 or not isinstance(digest, str):
                continue
            doc = self.read_json(digest)
            if doc is None:
                continue
            mtype = doc.get("mediaType") or d.get("mediaType")
            self.manifests.setdefault(digest, mtype)
            for layer in doc.get("layers") or []:
                if isinstance(layer, dict) and "digest" in layer:
                    self.layers.add(layer["digest"])
            sub = doc.get("manifests")
            if isinstance(sub, list):
                self.walk([s for s in sub if isinstance(s, dict)], depth + 1)

    def blob_path(self, digest):
        m = DIGEST_RE.match(digest or "")
        if not m:
            return None
        path = os.path.join(self.path, "blobs", "sha256", m.group(1))
        return path if os.path.isfile(path) else None

    def read(self, digest):
        path = self.blob_path(digest)
        if path is None:
            return None
        with open(path, "rb") as f:
            return f.read()

    def read_json(self, digest):
        """The blob as a JSON object, or None if it is not one."""
        path = self.blob_path(digest)
        if path is None or os.path.getsize(path) > 16 * MIB:
            return None
        try:
            with open(path, "rb") as f:
                doc = json.load(f)
        except (ValueError, OSError):
            return None
        return doc if isinstance(doc, dict) else None

    def manifest_type(self, digest):
        """The media type of the manifest DIGEST, or None if it is none."""
        doc = self.read_json(digest)
        if doc is not None and isinstance(doc.get("mediaType"), str):
            return doc["mediaType"]
        if digest in self.manifests:
            return self.manifests[digest] or DEFAULT_MANIFEST_TYPE
        if doc is not None and "schemaVersion" in doc:
            return DEFAULT_MANIFEST_TYPE
        return None


class Config:
    """What every handler needs: the options and the repositories."""
    def __init__(self, args):
        self.port = args.port
        self.scheme = "https" if args.tls else "http"
        self.modes = set(args.mode or [])
        self.token = args.token
        self.basic = args.basic
        self.repos = {}
        for spec in args.repo:
            name, sep, path = spec.partition("=")
            if not sep or not name or not path:
                sys.exit("fakereg: --repo wants NAME=LAYOUTDIR, not " + spec)
            try:
                self.repos[name] = Layout(path)
            except (OSError, ValueError) as e:
                sys.exit("fakereg: %s: %s" % (path, e))


def token_allows(token, name):
    """Whether TOKEN is one of ours and, for a repository NAME, pulls it."""
    if not token.startswith("tok-"):
        return False
    try:
        scope = bytes.fromhex(token[4:]).decode()
    except ValueError:
        return False
    if name is None:
        return True
    for item in scope.split():
        kind, _, rest = item.partition(":")
        repo, _, actions = rest.rpartition(":")
        if kind == "repository" and repo == name and \
                "pull" in actions.split(","):
            return True
    return False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakereg/1"

    def setup(self):
        # With TLS the handshake happens here, in the connection's own
        # thread, so that a slow client cannot hold up the others.
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(30)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()

    def log_request(self, code="-", size="-"):
        path = self.path
        if self.server.other:
            # The same path on the other host: logged as a full URL.
            path = "%s://127.0.0.2:%d%s" % (self.server.cfg.scheme,
                                             self.server.cfg.port, path)
        with LOG_LOCK:
            sys.stderr.write("%s %s %d\n" % (self.command, path, int(code)))
            sys.stderr.flush()

    def log_message(self, format, *args):
        pass

    def send_bytes(self, code, body, ctype, headers=None, head=False):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def send_errors(self, code, err, message, headers=None, head=False):
        body = json.dumps({"errors": [{"code": err, "message": message}]})
        self.send_bytes(code, body.encode(), "application/json", headers,
                        head)

    def redirect(self, location):
        self.send_bytes(307, b"", "text/plain", {"Location": location})

    def challenge(self, value, head):
        self.send_errors(401, "UNAUTHORIZED", "authentication required",
                         {"WWW-Authenticate": value}, head)

    def do_GET(self):
        self.route(head=False)

    def do_HEAD(self):
        self.route(head=True)

    def refuse(self):
        # The body, if any, is not read, so the connection cannot go on.
        self.close_connection = True
        self.send_errors(405, "UNSUPPORTED", "method not supported")

    do_POST = do_PUT = do_PATCH = do_DELETE = refuse

    def route(self, head):
        cfg = self.server.cfg
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        if path == "/token":
            return self.serve_token(url.query, head)
        m = BLOBSTORE_RE.match(path)
        if m:
            return self.serve_blobstore(m.group(1), head)
        if path in ("/v2/", "/v2"):
            if self.authorized(None, head):
                self.send_bytes(200, b"{}", "application/json", head=head)
            return
        m = V2_RE.match(path)
        if not m:
            return self.send_errors(404, "NOT_FOUND", "no such endpoint",
                                    head=head)
        name, kind, ref = m.groups()
        if self.server.other:
            return self.serve_other(name, kind, ref, head)
        if not self.authorized(name, head):
            return
        if "error-500" in cfg.modes:
            return self.send_errors(500, "UNKNOWN", "internal server error",
                                    head=head)
        layout = cfg.repos.get(name)
        if layout is None:
            return self.send_errors(404, "NAME_UNKNOWN",
                                    "repository name not known to registry",
                                    head=head)
        if kind == "manifests":
            self.serve_manifest(layout, ref, head)
        else:
            self.serve_blob(layout, ref, head)

    def basic_ok(self):
        scheme, _, cred = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(cred.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return decoded == self.server.cfg.basic

    def authorized(self, name, head):
        """Whether the request may read repository NAME (None: just /v2/).
        If not, the 401 answer has been sent."""
        cfg = self.server.cfg
        if cfg.token:
            auth = self.headers.get("Authorization", "")
            scheme, _, cred = auth.partition(" ")
            if scheme.lower() == "bearer" and token_allows(cred.strip(), name):
                return True
            challenge = 'Bearer realm="%s://127.0.0.1:%d/token",' \
                        'service="fakereg"' % (cfg.scheme, cfg.port)
            if name is not None:
                challenge += ',scope="repository:%s:pull"' % name
        elif cfg.basic:
            if self.basic_ok():
                return True
            challenge = 'Basic realm="fakereg"'
        else:
            return True
        self.challenge(challenge, head)
        return False

    def serve_token(self, query, head):
        cfg = self.server.cfg
        if not cfg.token or self.server.other:
            return self.send_errors(404, "NOT_FOUND", "no such endpoint",
                                    head=head)
        if cfg.basic and not self.basic_ok():
            return self.challenge('Basic realm="fakereg"', head)
        # A client may ask for several scopes, each its own parameter.
        scopes = urllib.parse.parse_qs(query).get("scope", [])
        tok = "tok-" + " ".join(scopes).encode().hex()
        body = json.dumps({"token": tok, "access_token": tok,
                           "expires_in": 300})
        self.send_bytes(200, body.encode(), "application/json", head=head)

    def serve_manifest(self, layout, ref, head):
        modes = self.server.cfg.modes
        by_tag = ":" not in ref
        if by_tag:
            desc = layout.tags.get(ref, {})
            digest, mtype = desc.get("digest"), desc.get("mediaType")
            if digest is not None and not mtype:
                mtype = layout.manifest_type(digest) or DEFAULT_MANIFEST_TYPE
        else:
            digest = ref
            mtype = layout.manifest_type(ref)
        body = layout.read(digest) if digest and mtype else None
        if body is None:
            return self.send_errors(404, "MANIFEST_UNKNOWN",
                                    "manifest unknown: " + ref, head=head)
        digest_header = digest
        if not head:
            if "wrong-digest-header" in modes:
                digest_header = OTHER_DIGEST
            if "corrupt-manifest" in modes and by_tag:
                body = pad_json(body, b" ")
            if "big-manifest" in modes:
                body = pad_json(body, b" " * (5 * MIB))
        self.send_bytes(200, body, mtype,
                        {"Docker-Content-Digest": digest_header}, head)

    def serve_blob(self, layout, ref, head):
        cfg = self.server.cfg
        data = layout.read(ref)
        if data is None:
            return self.send_errors(404, "BLOB_UNKNOWN",
                                    "blob unknown to registry: " + ref,
                                    head=head)
        layer = ref in layout.layers
        if layer and not head:
            if "redirect-other" in cfg.modes:
                return self.redirect("%s://127.0.0.2:%d%s" %
                                     (cfg.scheme, cfg.port, self.path))
            if "redirect-same" in cfg.modes:
                return self.redirect("/blobstore/" + ref)
        self.send_blob(data, ref, head, layer)

    def serve_blobstore(self, digest, head):
        for layout in self.server.cfg.repos.values():
            data = layout.read(digest)
            if data is not None:
                return self.send_blob(data, digest, head,
                                      digest in layout.layers)
        self.send_errors(404, "BLOB_UNKNOWN", "blob unknown: " + digest,
                         head=head)

    def serve_other(self, name, kind, ref, head):
        """The 127.0.0.2 listener: layers only, and no credentials."""
        if "Authorization" in self.headers:
            return self.send_errors(400, "INVALID_REQUEST",
                                    "unexpected Authorization header",
                                    head=head)
        layout = self.server.cfg.repos.get(name)
        data = layout.read(ref) if layout and kind == "blobs" else None
        if data is None:
            return self.send_errors(404, "BLOB_UNKNOWN", "blob unknown: " +
                                    ref, head=head)
        self.send_blob(data, ref, head, ref in layout.layers)

    def send_blob(self, data, digest, head, layer):
        """Send a blob; a layer sent to a GET gets the layer modes."""
        modes = self.server.cfg.modes if layer and not head else set()
        tail = b""
        if "corrupt-blob" in modes and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        if "long-blob" in modes:
            tail = b"\0" * MIB
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Docker-Content-Digest", digest)
        self.send_header("Content-Length", str(len(data) + len(tail)))
        self.end_headers()
        if head:
            return
        if "stall-blob" in modes:
            self.wfile.write(data[:100])
            self.wfile.flush()
            time.sleep(600)
            self.close_connection = True
            return
        if "short-blob" in modes:
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)
        self.wfile.write(tail)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, cfg, other, tls):
        super().__init__(addr, Handler)
        self.cfg = cfg
        self.other = other
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        # Clients that go away or fail the TLS handshake are expected.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser(description="A small OCI registry for tests.")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--repo", action="append", required=True,
                   metavar="NAME=LAYOUTDIR")
    p.add_argument("--mode", action="append", choices=MODES)
    p.add_argument("--token", action="store_true")
    p.add_argument("--basic", metavar="USER:PASS")
    p.add_argument("--ready", metavar="FILE")
    args = p.parse_args()
    cfg = Config(args)

    tls = None
    if args.tls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls[0], args.tls[1])

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    try:
        server = Server(("127.0.0.1", args.port), cfg, False, tls)
        if "redirect-other" in cfg.modes:
            other = Server(("127.0.0.2", args.port), cfg, True, tls)
            threading.Thread(target=other.serve_forever, daemon=True).start()
    except OSError as e:
        sys.exit("fakereg: cannot listen on port %d: %s" % (args.port, e))
    if args.ready:
        # Written whole, then renamed: a reader never sees it half done.
        tmp = args.ready + ".tmp"
        with open(tmp, "w") as f:
            f.write("ok")
        os.replace(tmp, args.ready)
    server.serve_forever()


if __name__ == "__main__":
    main()
