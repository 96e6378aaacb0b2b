"""Files whose fate follows the database transaction.

A service that stores a new file and points a row at it cannot know whether the request will
commit. ``keep_if_committed`` removes the new file if the transaction rolls back (no row points
at it then); ``remove_when_committed`` removes a replaced file only once the commit has made the
new pointer final, so a failed request never leaves a row pointing at a deleted file.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from services import storage

_NEW = "files_new_in_transaction"
_OLD = "files_replaced_in_transaction"


def keep_if_committed(session: Session, upload_dir: str, key: str) -> None:
    """Delete ``key`` unless the current transaction commits."""
    session.info.setdefault(_NEW, []).append((upload_dir, key))


def remove_when_committed(session: Session, upload_dir: str, key: str) -> None:
    """Delete ``key`` once the current transaction has committed (and not otherwise)."""
    session.info.setdefault(_OLD, []).append((upload_dir, key))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(_NEW, None)
    for upload_dir, key in session.info.pop(_OLD, []):
        storage.delete(upload_dir, key)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None or transaction.nested:
        return
    # still pending here means the outermost transaction ended without a commit
    session.info.pop(_OLD, None)
    for upload_dir, key in session.info.pop(_NEW, []):
        storage.delete(upload_dir, key)
