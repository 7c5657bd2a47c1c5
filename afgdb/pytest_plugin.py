"""pytest fixtures for testing with afgdb (registered as the ``afgdb`` pytest11 plugin).

Installed with the package, so any test suite can use them:

``afgdb_machine``
    a `Kernel` on the shipped rootfs whose guests' output is captured
    (``afgdb_machine.stdio[1].out``): run programs without a debugger.
``afgdb_server``
    an `afgdb.harness.ServerProcess`: ``afgdb serve`` in a subprocess on a
    free loopback port (``.address``; ``.output()`` is what the guests
    wrote), stopped at the end of the test.
``afgdb_client``
    an async `afgdb.client.Client` connected to ``afgdb_server``; for
    ``async def`` tests under anyio's pytest plugin (``@pytest.mark.anyio``;
    the test's ``anyio_backend`` fixture chooses the event loop).
``afgdb_sync_client``
    the same as a blocking `afgdb.client.SyncClient`, for plain tests.
``afgdb_gdb``
    an `afgdb.gdbmi.Gdb` (pygdbmi driving gdb-multiarch) already connected
    to ``afgdb_server`` with ``target extended-remote``; its ``go``,
    ``cont`` and ``wait_stop`` wait for stop records, never sleep. The
    test is skipped when gdb-multiarch is not installed.

Imports of the machine, anyio and pygdbmi happen inside the fixtures, so
loading the plugin costs nothing to suites that do not use it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from afgdb.client import Client, SyncClient
    from afgdb.gdbmi import Gdb
    from afgdb.harness import ServerProcess
    from afgdb.machine.kernel.kernel import Kernel


@pytest.fixture
def afgdb_machine() -> Kernel:
    """A simulated machine on the shipped rootfs, guest output captured."""
    from afgdb.harness import make_kernel

    kernel, _ = make_kernel()
    return kernel


@pytest.fixture
def afgdb_server() -> Iterator[ServerProcess]:
    """A running afgdb server (in-process thread) on a free loopback port."""
    from afgdb.harness import ServerProcess

    with ServerProcess() as srv:
        yield srv


@pytest.fixture
async def afgdb_client(afgdb_server: ServerProcess, anyio_backend: Any) -> AsyncIterator[Client]:
    """An async client connected to ``afgdb_server`` (use with ``@pytest.mark.anyio``)."""
    from afgdb.client import Client

    client = await Client.connect(afgdb_server.address)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def afgdb_sync_client(afgdb_server: ServerProcess) -> Iterator[SyncClient]:
    """A blocking client connected to ``afgdb_server``."""
    from afgdb.client import SyncClient

    with SyncClient.connect(afgdb_server.address) as client:
        yield client


@pytest.fixture
def afgdb_gdb(afgdb_server: ServerProcess) -> Iterator[Gdb]:
    """gdb-multiarch under pygdbmi, connected to ``afgdb_server`` (extended-remote)."""
    from afgdb.gdbmi import Gdb, gdb_path, rootfs_dir

    if gdb_path() is None:
        pytest.skip("gdb-multiarch is not installed")
    with Gdb() as gdb:
        gdb.run(f"set substitute-path /afgdb/rootfs {rootfs_dir()}")
        gdb.connect(afgdb_server.address)
        yield gdb
