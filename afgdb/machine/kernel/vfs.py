"""The guest's file system: a host directory as root, with no way out of it.

Paths are resolved one component at a time: ``..`` stops at the root, and
symbolic links (absolute or relative) are followed inside the root, so no
guest path names a host file outside it.
"""

from __future__ import annotations

import os
import stat as st

from afgdb.machine.kernel import linux_abi as E
from afgdb.machine.kernel.errors import SyscallError

MAX_SYMLINKS = 40
PATH_MAX = 4096


class Vfs:
    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"root directory {root!r} does not exist")

    def host(self, guest: str) -> str:
        """Host path of an already-normalised guest path ("/a/b")."""
        return self.root + guest if guest != "/" else self.root

    def resolve(self, path: str, cwd: str = "/", follow: bool = True,
                must_exist: bool = False) -> str:
        """Normalised guest path (always absolute, no symlinks except maybe the last)."""
        return self.lookup(path, cwd, follow, must_exist)[0]

    def lookup(self, path: str, cwd: str = "/", follow: bool = True,
               must_exist: bool = False) -> tuple[str, os.stat_result | None]:
        """resolve, with the host lstat of the file the path names when the walk made it
        (None when it did not: the root, a path ending in . or .., a missing file), so
        that a caller does not stat the file again."""
        if not path:
            raise SyscallError(E.ENOENT, "empty path")
        if len(path) >= PATH_MAX:
            raise SyscallError(E.ENAMETOOLONG)
        parts: list[str] = [] if path.startswith("/") else [p for p in cwd.split("/") if p]
        todo = [p for p in path.split("/") if p]
        todo.reverse()
        links = 0
        trailing_slash = path.endswith("/")
        found: os.stat_result | None = None  # lstat of "/".join(parts) when known
        while todo:
            name = todo.pop()
            found = None
            if name == ".":
                continue
            if name == "..":
                if parts:
                    parts.pop()
                continue
            if len(name) > 255:
                raise SyscallError(E.ENAMETOOLONG)
            cand = "/" + "/".join(parts + [name])
            hp = self.host(cand)
            last = not todo
            try:
                lst = os.lstat(hp)
            except FileNotFoundError:
                if not last:
                    raise SyscallError(E.ENOENT, cand) from None
                if must_exist:
                    raise SyscallError(E.ENOENT, cand) from None
                parts.append(name)
                continue
            except NotADirectoryError:
                raise SyscallError(E.ENOTDIR, cand) from None
            except OSError as e:
                raise SyscallError(E.EACCES, str(e)) from None
            mode = lst.st_mode
            if st.S_ISLNK(mode) and (follow or not last or trailing_slash):
                links += 1
                if links > MAX_SYMLINKS:
                    raise SyscallError(E.ELOOP)
                target = os.readlink(hp)
                if target.startswith("/"):
                    parts = []
                todo.extend(reversed([p for p in target.split("/") if p]))
                continue
            if not last and not st.S_ISDIR(mode):
                raise SyscallError(E.ENOTDIR, cand)
            parts.append(name)
            found = lst
        return "/" + "/".join(parts), found

    def host_path(self, path: str, cwd: str = "/", follow: bool = True,
                  must_exist: bool = False) -> str:
        return self.host(self.resolve(path, cwd, follow, must_exist))


def oserror_errno(e: OSError) -> int:
    """Host errno -> MIPS errno (host numbers are x86's and differ)."""
    import errno as host

    table = {getattr(host, name): getattr(E, name) for name in dir(host)
             if name.startswith("E") and hasattr(E, name)}
    result: int = table.get(e.errno or 0, E.EIO)
    return result
