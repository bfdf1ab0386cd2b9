"""An exclusive lease, so that only one instance of a singleton consumer (the relay) is active.

SQLite read models (one machine): an exclusive `fcntl` lock on a file in the data directory; the
kernel releases it when the holder dies, however it dies. PostgreSQL read models: a session-level
advisory lock on a dedicated connection; the server releases it when that connection ends.
A second instance waits, and takes over when the holder is gone.
"""

from __future__ import annotations

import fcntl
import hashlib
import threading
import time
from pathlib import Path

import structlog
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

log = structlog.get_logger("voronka.lease")
WAIT_LOG_EVERY = 30.0


class Lease:
    def __init__(self, engine: Engine, data_dir: Path, name: str) -> None:
        self.name = name
        self.postgres = engine.dialect.name == "postgresql"
        # no pool: closing the lease's connection must end its session, and with it the lock
        self.engine = create_engine(engine.url, poolclass=NullPool) if self.postgres else engine
        self.path = data_dir / f"{name}.lock"
        self._file = None
        self._conn = None

    def acquire(self, stop: threading.Event, poll: float = 0.5) -> bool:
        """Wait until the lease is ours (True), or until stopped (False)."""
        last_log = 0.0
        while not stop.is_set():
            if self._try():
                log.info("lease_acquired", lease=self.name)
                return True
            if time.monotonic() - last_log > WAIT_LOG_EVERY:
                log.info("lease_waiting", lease=self.name, held_elsewhere=True)
                last_log = time.monotonic()
            stop.wait(poll)
        return False

    def held(self) -> bool:
        """Whether the lease is still ours (a PostgreSQL session can be lost under us)."""
        if not self.postgres:
            return self._file is not None
        try:
            self._conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means the session, and with it the lock, is gone
            log.warning("lease_lost", lease=self.name)
            self.release()
            return False

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            try:
                self._conn.close()  # ends the session: the server drops its advisory locks
            except Exception:  # noqa: BLE001
                pass
            self._conn = None

    def _try(self) -> bool:
        return self._try_advisory() if self.postgres else self._try_file()

    def _try_file(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def _try_advisory(self) -> bool:
        key = int.from_bytes(hashlib.blake2b(self.name.encode(), digest_size=8).digest(), "big", signed=True)
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            if conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
                self._conn = conn
                return True
        except Exception:
            conn.close()
            raise
        conn.close()
        return False
