#!/usr/bin/env python3
"""Compare an ext4 image with the layers it was made from, entry by
entry: fscompare.py IMAGE SPEC.json.

SPEC is mkoci.py's.  The layers are applied here, in order, as an OCI
image's are: entries added or replaced (a directory over a directory
keeps what is below it), ".wh.NAME" removing NAME, ".wh..wh..opq"
removing what lower layers put in its directory, hard links sharing
their target's inode, missing parents made 0755 root:root, and a path
looked up through the symbolic links earlier entries made.  Then every
path of IMAGE (debugfs, lost+found aside) must be an expected one and
every expected one there, each with its type, mode, owner, size,
content, link target, device numbers, extended attributes and hard
links.  Prints one line per difference and exits 1 if there is any;
prints "N entries match" and exits 0 otherwise.
"""
import hashlib
import json
import re
import subprocess
import sys

TYPES = {"file": 0o100000, "dir": 0o040000, "symlink": 0o120000,
         "char": 0o020000, "block": 0o060000, "fifo": 0o010000}


class Node:
    def __init__(self, kind, e, layer):
        self.kind = kind
        self.mode = e.get("mode", 0o755 if kind == "dir" else 0o644)
        if kind == "symlink":
            self.mode = 0o777
        self.uid = e.get("uid", 0)
        self.gid = e.get("gid", 0)
        self.data = None
        if kind == "file":
            self.data = (e["data"].encode() if "data" in e
                         else b"\0" * e.get("size", 0))
        self.target = e.get("target")
        self.dev = (e.get("major", 0), e.get("minor", 0))
        self.xattrs = e.get("xattrs", {})
        self.layer = layer


def split(p):
    return [c for c in p.split("/") if c not in ("", ".")]


class Tree:
    def __init__(self):
        self.nodes = {(): Node("dir", {}, -1)}

    def resolve_parent(self, parts, layer):
        """The directory parts[:-1] names, through symbolic links,
        made as needed; and the last part."""
        cur = ()
        todo = list(parts[:-1])
        hops = 0
        while todo:
            c = todo.pop(0)
            if c == "..":
                cur = cur[:-1]
                continue
            nxt = cur + (c,)
            n = self.nodes.get(nxt)
            if n is not None and n.kind == "symlink":
                hops += 1
                if hops > 40:
                    raise ValueError("symlink loop")
                t = split(n.target)
                if n.target.startswith("/"):
                    cur = ()
                todo = t + todo
                continue
            if n is None:
                self.nodes[nxt] = Node("dir", {}, layer)
            elif n.kind != "dir":
                raise ValueError("a file where a directory is wanted")
            cur = nxt
        return cur, parts[-1]

    def remove(self, path):
        for k in [k for k in self.nodes if k[:len(path)] == path]:
            del self.nodes[k]

    def apply(self, entries, layer):
        for e in entries:
            parts = split(e["name"])
            d, base = self.resolve_parent(parts, layer)
            if base == ".wh..wh..opq":
                for k in [k for k in self.nodes
                          if len(k) > len(d) and k[:len(d)] == d and
                          self.nodes[k].layer != layer]:
                    self.nodes.pop(k, None)
                continue
            if base.startswith(".wh."):
                self.remove(d + (base[4:],))
                continue
            path = d + (base,)
            kind = e.get("type", "file")
            old = self.nodes.get(path)
            if kind == "hardlink":
                tp = self.resolve_parent(split(e["target"]), layer)
                self.remove(path)
                self.nodes[path] = self.nodes[tp[0] + (tp[1],)]
                continue
            if kind == "dir" and old is not None and old.kind == "dir":
                n = Node("dir", e, layer)
                old.mode, old.uid, old.gid = n.mode, n.uid, n.gid
                old.xattrs, old.layer = n.xattrs, layer
                continue
            self.remove(path)
            self.nodes[path] = Node(kind, e, layer)


def debugfs(image, cmd):
    return subprocess.run(["debugfs", "-R", cmd, image],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          check=False).stdout


def listing(image):
    """Every path of the image: (mode, uid, gid, size, inode)."""
    out, todo = {}, [()]
    while todo:
        d = todo.pop()
        text = debugfs(image, "ls -p /" + "/".join(d)).decode(
            "utf-8", "surrogateescape")
        for line in text.splitlines():
            f = line.split("/")
            if len(f) < 7 or f[5] in (".", ".."):
                continue
            p = d + (f[5],)
            if p == ("lost+found",):
                continue
            mode = int(f[2], 8)
            out[p] = (mode, int(f[3]), int(f[4]), f[6], int(f[1]))
            if mode & 0o170000 == 0o040000:
                todo.append(p)
    return out


def main():
    image, spec = sys.argv[1], json.load(open(sys.argv[2]))
    tree = Tree()
    for i, l in enumerate(spec["layers"]):
        if isinstance(l, list):
            l = {"entries": l}
        tree.apply(l["entries"], i)
    want = {p: n for p, n in tree.nodes.items() if p != ()}
    have = listing(image)
    bad = []
    for p in sorted(set(want) - set(have)):
        bad.append("/%s: missing" % "/".join(p))
    for p in sorted(set(have) - set(want)):
        bad.append("/%s: not in the layers" % "/".join(p))
    inodes = {}
    for p in sorted(set(want) & set(have)):
        n, (mode, uid, gid, size, ino) = want[p], have[p]
        name = "/" + "/".join(p)
        wmode = TYPES[n.kind] | n.mode
        if mode != wmode:
            bad.append("%s: mode %o, want %o" % (name, mode, wmode))
        if (uid, gid) != (n.uid, n.gid):
            bad.append("%s: owner %d:%d, want %d:%d" % (name, uid, gid,
                                                         n.uid, n.gid))
        other = inodes.setdefault(id(n), ino)
        if other != ino:
            bad.append("%s: inode %d, want %d (a hard link)" % (name, ino,
                                                                 other))
        if n.kind == "file":
            got = debugfs(image, "cat " + name)
            if hashlib.sha256(got).digest() != \
                    hashlib.sha256(n.data).digest():
                bad.append("%s: %d bytes that differ from the layer's %d"
                           % (name, len(got), len(n.data)))
        st = debugfs(image, "stat " + name).decode("utf-8", "replace")
        if n.kind == "symlink":
            m = re.search(r'Fast link dest: "(.*)"', st)
            got = m.group(1) if m else debugfs(image, "cat " + name).decode()
            if got != n.target:
                bad.append("%s: links to %r, want %r" % (name, got,
                                                         n.target))
        if n.kind in ("char", "block"):
            m = re.search(r"Device major/minor number: (\d+):(\d+)", st)
            got = (int(m.group(1)), int(m.group(2))) if m else None
            if got != n.dev:
                bad.append("%s: device %s, want %s" % (name, got, n.dev))
        for k, v in n.xattrs.items():
            ea = debugfs(image, "ea_get %s %s" % (name, k)).decode(
                "utf-8", "replace")
            if v not in ea:
                bad.append("%s: xattr %s is %r, want %r" % (name, k,
                                                            ea.strip(), v))
    for b in bad:
        print(b)
    if bad:
        return 1
    print("%d entries match" % len(want))
    return 0


sys.exit(main())
