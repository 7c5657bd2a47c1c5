"""Loaded program images, kept per file version so that exec maps them copy-on-write.

The first exec of a program file checks it and loads its segments (and the
signal trampoline page) into a template address space that no process runs
in. Every later exec of the same file version (host device, inode, size,
mtime, ctime) neither reads nor parses the file: it forks the template, so
file-backed pages are shared copy-on-write by every process running the
program and copied only when written. The template's frames are the
machine's page cache and are not charged to the page pool; a process pays for
the pages it writes, as for any copy-on-write page.

Owns only the cache; what an exec does with the image is sys_exec's business.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from afgdb.machine.kernel import kern_exec, sigframe
from afgdb.machine.memory import AddressSpace

if TYPE_CHECKING:
    from afgdb.machine.kernel.kernel import Kernel

MAX_IMAGES = 8  # templates kept per machine, least recently exec'd dropped first

FileVersion = tuple[str, int, int, int, int, int]


@dataclass
class CachedImage:
    img: kern_exec.Image
    template: AddressSpace  # the loaded segments and the sigpage; never run, never written


def file_version(host: str, st: os.stat_result) -> FileVersion:
    """What must not change for a cached image to stand for the file."""
    return (host, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _images(k: Kernel) -> OrderedDict[FileVersion, CachedImage]:
    d: OrderedDict[FileVersion, CachedImage] | None = k.extensions.get("image_cache")
    if d is None:
        d = k.extensions["image_cache"] = OrderedDict()
    return d


def lookup(k: Kernel, version: FileVersion) -> CachedImage | None:
    images = _images(k)
    hit = images.get(version)
    if hit is not None:
        images.move_to_end(version)
    return hit


def add(k: Kernel, version: FileVersion, data: bytes, img: kern_exec.Image,
        guest: str) -> CachedImage:
    """Load a checked program into a new template and keep it (evicting the oldest)."""
    template = AddressSpace()  # no pool: page cache, not a process's memory
    kern_exec.load(template, data, img, guest)
    sigframe.map_sigpage(template)
    images = _images(k)
    for old in [v for v in images if v[0] == version[0]]:  # an older version of the file
        images.pop(old).template.release()
    while len(images) >= MAX_IMAGES:
        images.popitem(last=False)[1].template.release()
    entry = images[version] = CachedImage(img, template)
    return entry


def instantiate(k: Kernel, entry: CachedImage) -> AddressSpace:
    """A fresh address space holding the image: the template's pages, copy-on-write."""
    aspace = entry.template.fork()
    aspace.pool = k.pages  # pages written from now on are the process's
    return aspace
