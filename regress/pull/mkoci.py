#!/usr/bin/env python3
"""Write an OCI image layout for the tests: mkoci.py DIR SPEC.json.

SPEC is a JSON object:
  "layers": [ layer, ... ]   each layer a list of entries, or an object
                             {"entries": [...], "compress": "gzip"|"zstd"|
                             "none", "media": "...", "corrupt": true,
                             "omit": true, "size_off": N,
                             "tarfile": PATH (the layer's tar as it is)}
  "arch": "amd64", "os": "linux"          the config's and the index's
  "docker": true        Docker schema 2 media types
  "nested": true        index.json -> an image index -> the manifest (a
                        Docker manifest list with "docker")
  "others": ["arm64"]   the index lists images for these architectures
                        too, before ours
  "twice": true         index.json names two manifests for linux/ARCH
  "index": "..."        index.json's text as given (nothing else checked)
  "legacy": true        DIR is a docker-archive tar to write, as docker
                        save wrote them before 25: manifest.json
                        ("images": N repeats its one image)
An entry: {"name": "a/b", "type": "file"|"dir"|"symlink"|"hardlink"|
"char"|"block"|"fifo", "data": "text", "size": N (zeros), "mode": 0o644,
"uid": 0, "gid": 0, "mtime": 0, "target": "...", "major": 1, "minor": 3,
"xattrs": {"user.x": "v"}}.
"""
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile


def tar_layer(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.mode = e.get("mode", 0o755 if e.get("type") == "dir" else 0o644)
            ti.uid = e.get("uid", 0)
            ti.gid = e.get("gid", 0)
            ti.mtime = e.get("mtime", 1700000000)
            kind = e.get("type", "file")
            data = None
            if kind == "file":
                if "data" in e:
                    data = e["data"].encode()
                else:
                    data = b"\0" * e.get("size", 0)
                ti.size = len(data)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = e["target"]
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = e["target"]
            elif kind in ("char", "block"):
                ti.type = tarfile.CHRTYPE if kind == "char" else tarfile.BLKTYPE
                ti.devmajor = e.get("major", 0)
                ti.devminor = e.get("minor", 0)
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            if "xattrs" in e:
                ti.pax_headers = {"SCHILY.xattr." + k: v
                                  for k, v in e["xattrs"].items()}
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def compress(raw, how):
    if how == "gzip":
        return gzip.compress(raw, mtime=0)
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=raw,
                              stdout=subprocess.PIPE, check=True).stdout
    return raw


def blob(d, data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(d, "blobs", "sha256", h), "wb") as f:
        f.write(data)
    return "sha256:" + h, len(data)


def legacy(out, spec):
    """A docker-archive as docker save wrote it before 25 (and skopeo's
    docker-archive: does): manifest.json, the config, each layer's tar
    in a directory of its own; the whole an uncompressed tar at out."""
    members, paths, diff_ids = [], [], []
    for i, l in enumerate(spec["layers"]):
        if isinstance(l, list):
            l = {"entries": l}
        raw = tar_layer(l["entries"])
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        if l.get("corrupt"):
            b = bytearray(raw)
            b[len(b) // 3] ^= 0xff
            raw = bytes(b)
        path = "%064x/layer.tar" % (i + 1)
        if not l.get("omit"):
            members.append((path, raw))
        paths.append(path)
    cfg = json.dumps({"architecture": spec.get("arch", "amd64"),
                      "os": "linux", "rootfs": {"type": "layers",
                      "diff_ids": diff_ids}}).encode()
    cname = hashlib.sha256(cfg).hexdigest() + ".json"
    members.append((cname, cfg))
    images = [{"Config": cname, "RepoTags": ["t:latest"], "Layers": paths}]
    members.append(("manifest.json",
                    json.dumps(images * spec.get("images", 1)).encode()))
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))


def main():
    d, spec = sys.argv[1], json.load(open(sys.argv[2]))
    if spec.get("legacy"):
        legacy(d, spec)
        return
    os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(d, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')
    if "index" in spec:
        with open(os.path.join(d, "index.json"), "w") as f:
            f.write(spec["index"])
        return
    docker = spec.get("docker", False)
    arch, osname = spec.get("arch", "amd64"), spec.get("os", "linux")
    layers, diff_ids = [], []
    for l in spec["layers"]:
        if isinstance(l, list):
            l = {"entries": l}
        if "tarfile" in l:
            raw = open(l["tarfile"], "rb").read()
        else:
            raw = tar_layer(l["entries"])
        how = l.get("compress", "gzip")
        data = compress(raw, how)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        dg, size = blob(d, data)
        if l.get("corrupt"):
            p = os.path.join(d, "blobs", "sha256", dg[7:])
            b = bytearray(open(p, "rb").read())
            b[len(b) // 2] ^= 0xff
            open(p, "wb").write(bytes(b))
        if l.get("omit"):
            os.unlink(os.path.join(d, "blobs", "sha256", dg[7:]))
        if docker:
            media = "application/vnd.docker.image.rootfs.diff.tar.gzip"
        else:
            media = "application/vnd.oci.image.layer.v1.tar" + \
                {"gzip": "+gzip", "zstd": "+zstd", "none": ""}[how]
        layers.append({"mediaType": l.get("media", media), "digest": dg,
                       "size": size + l.get("size_off", 0)})
    cfg = {"architecture": arch, "os": osname,
           "rootfs": {"type": "layers", "diff_ids": diff_ids},
           "config": {"Cmd": ["/bin/sh"]}}
    cdg, csize = blob(d, json.dumps(cfg).encode())
    mt = ("application/vnd.docker.distribution.manifest.v2+json" if docker
          else "application/vnd.oci.image.manifest.v1+json")
    man = {"schemaVersion": 2, "mediaType": mt,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json"
                      if not docker else
                      "application/vnd.docker.container.image.v1+json",
                      "digest": cdg, "size": csize},
           "layers": layers}
    mdg, msize = blob(d, json.dumps(man).encode())
    desc = {"mediaType": mt, "digest": mdg, "size": msize,
            "platform": {"architecture": arch, "os": osname}}
    manifests = [desc]
    if spec.get("twice"):
        manifests.append(dict(desc))
    # Images for other architectures first, as a multi-platform index
    # lists them: the same layers, their own config and manifest.
    for other in reversed(spec.get("others", [])):
        ocfg = dict(cfg, architecture=other)
        odg, osz = blob(d, json.dumps(ocfg).encode())
        oman = dict(man, config=dict(man["config"], digest=odg, size=osz))
        omdg, omsize = blob(d, json.dumps(oman).encode())
        manifests.insert(0, {"mediaType": mt, "digest": omdg, "size": omsize,
                             "platform": {"architecture": other,
                                          "os": osname}})
    if spec.get("nested"):
        lt = ("application/vnd.docker.distribution.manifest.list.v2+json"
              if docker else "application/vnd.oci.image.index.v1+json")
        sub = {"schemaVersion": 2, "mediaType": lt, "manifests": manifests}
        sdg, ssize = blob(d, json.dumps(sub).encode())
        manifests = [{"mediaType": lt, "digest": sdg, "size": ssize}]
    idx = {"schemaVersion": 2,
           "mediaType": "application/vnd.oci.image.index.v1+json",
           "manifests": manifests}
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump(idx, f)


main()
