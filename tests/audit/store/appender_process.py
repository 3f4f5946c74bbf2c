"""A separate process appending to one tenant's audit chain (used by test_two_processes.py).

Usage: python appender_process.py DATABASE_URL KEY_PEM_FILE COUNT NAME"""

from __future__ import annotations

import sys
from pathlib import Path

from audit.events import Actor, ActorKind, AuditEvent
from audit.signing import load_private_key
from audit.store.group_commit import GroupCommitAppender
from audit.store.log import AuditLog
from enclave.db import create_db_engine, session_factory, transaction


def main() -> None:
    url, key_file, count_text, name = sys.argv[1:5]
    count = int(count_text)
    sessions = session_factory(create_db_engine(url))
    log = AuditLog(load_private_key(Path(key_file).read_text()), checkpoint_every=25)
    actor = Actor(ActorKind.SYSTEM, name)
    half = count // 2
    for i in range(half):  # one transaction per event
        with transaction(sessions) as session:
            log.append(session, AuditEvent(tenant="acme", actor=actor, action="audit.demo", details={"i": i}))
    appender = GroupCommitAppender(log, sessions, max_batch=16, max_wait_ms=1)
    futures = [
        appender.submit(AuditEvent(tenant="acme", actor=actor, action="audit.demo", details={"i": i}))
        for i in range(half, count)
    ]
    for future in futures:
        future.result(timeout=120)
    appender.close()


if __name__ == "__main__":
    main()
