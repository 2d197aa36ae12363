"""Comments on audits: adding, answering, editing and resolving them, and reading them back.

Split from :mod:`audit.store.core` to keep files short; :class:`audit.store.core.AuditStore`
inherits from :class:`CommentStore`, which inherits the connection, transactions and
accounts from :class:`audit.store.accounts.StoreBase`.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from audit.errors import PermissionDenied, StoreError
from audit.store.accounts import StoreBase, append_event, check_text, now
from audit.store.schema import AUDITS, COMMENTS, USERS, Comment, Role, User
from audit.store.verify import text_sha256

_SECTION = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ACTOR, _RESOLVER = USERS.alias("actor"), USERS.alias("resolver")


class CommentStore(StoreBase):
    """The comment half of :class:`audit.store.core.AuditStore`; use that class."""

    def _audit(self, conn: sa.Connection, audit_id: int, *, lock: bool = False) -> Any:
        if not isinstance(audit_id, int) or isinstance(audit_id, bool):
            raise StoreError(f"audit_id must be an integer, got {audit_id!r}")
        query = sa.select(AUDITS).where(AUDITS.c.id == audit_id)
        # FOR UPDATE matters on server databases; SQLite writers already hold the write lock.
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise StoreError(f"no audit with id {audit_id}")
        return row

    @staticmethod
    def _comments(conn: sa.Connection, audit_id: int, *, open_only: bool) -> tuple[Comment, ...]:
        query = (sa.select(COMMENTS, _ACTOR.c.username, _RESOLVER.c.username.label("resolver"))
                 .join(_ACTOR, _ACTOR.c.id == COMMENTS.c.user_id)
                 .outerjoin(_RESOLVER, _RESOLVER.c.id == COMMENTS.c.resolved_by)
                 .where(COMMENTS.c.audit_id == audit_id).order_by(COMMENTS.c.id))
        if open_only:
            query = query.where(COMMENTS.c.resolved.is_(False))
        return tuple(Comment(id=r.id, audit_id=r.audit_id, author=r.username, section=r.section, body=r.body,
                             parent_id=r.parent_id, resolved=bool(r.resolved), resolved_by=r.resolver,
                             resolved_at=r.resolved_at, created_at=r.created_at) for r in conn.execute(query))

    # -- comments ------------------------------------------------------------------------

    def add_comment(self, audit_id: int, *, user: User | None, body: str, section: str = "general",
                    parent_id: int | None = None) -> Comment:
        """Comment on a report section; any signed-in user, viewers included.

        ``section`` is a report section key such as ``"fairness"``, ``"explanations"``
        or ``"general"`` (lowercase letters, digits, underscores), checked by shape
        only so that sections added later need no change here. ``parent_id`` makes
        the comment an answer to another comment on the same audit.
        """
        body = check_text(body, "comment", max_len=20_000)
        if not isinstance(section, str) or not _SECTION.fullmatch(section):
            raise StoreError(f"section must be a report section key like 'fairness' or 'general', got {section!r}")
        with self._tx(write=True) as conn:
            me = self._current(conn, user)
            self._audit(conn, audit_id)
            if parent_id is not None:
                parent = conn.execute(sa.select(COMMENTS.c.audit_id).where(COMMENTS.c.id == parent_id)).first()
                if parent is None or parent.audit_id != audit_id:
                    raise StoreError(f"comment {parent_id!r} is not a comment on audit {audit_id}")
            stamp = now()
            comment_id = conn.execute(sa.insert(COMMENTS).values(
                audit_id=audit_id, user_id=me.id, section=section, body=body, parent_id=parent_id,
                resolved=False, created_at=stamp)).inserted_primary_key[0]
            append_event(conn, user_id=me.id, action="comment.added", audit_id=audit_id,
                         comment_id=comment_id, section=section, body_sha256=text_sha256(body))
        return Comment(id=comment_id, audit_id=audit_id, author=me.username, section=section, body=body,
                       parent_id=parent_id, resolved=False, resolved_by=None, resolved_at=None, created_at=stamp)

    def edit_comment(self, comment_id: int, *, user: User | None, body: str) -> Comment:
        """Change the text of one's own comment; the trail records the edit and both texts' hashes.

        Only the comment's author may, and only while it is open: a resolved comment
        is part of the review record as it was resolved.
        """
        body = check_text(body, "comment", max_len=20_000)
        with self._tx(write=True) as conn:
            me = self._current(conn, user)
            row = conn.execute(sa.select(COMMENTS).where(COMMENTS.c.id == comment_id).with_for_update()).first()
            if row is None:
                raise StoreError(f"no comment with id {comment_id!r}")
            if row.user_id != me.id:
                raise PermissionDenied(f"{me.username} did not write comment {comment_id}; only its author edits it")
            if row.resolved:
                raise StoreError(f"comment {comment_id} is resolved; reopen it before editing")
            conn.execute(sa.update(COMMENTS).where(COMMENTS.c.id == comment_id).values(body=body))
            append_event(conn, user_id=me.id, action="comment.edited", audit_id=row.audit_id,
                         comment_id=comment_id, body_sha256=text_sha256(body),
                         previous_body_sha256=text_sha256(row.body))
            return next(c for c in self._comments(conn, row.audit_id, open_only=False) if c.id == comment_id)

    def resolve_comment(self, comment_id: int, *, user: User | None, resolved: bool = True) -> None:
        """Mark a comment resolved, or open again with ``resolved=False``.

        The comment's own author may; otherwise only a reviewer or admin who is not
        the audit's author, so an author cannot hide a reviewer's blocking comment
        from the model card.
        """
        with self._tx(write=True) as conn:
            me = self._current(conn, user)
            row = conn.execute(sa.select(COMMENTS.c.user_id, COMMENTS.c.audit_id)
                               .where(COMMENTS.c.id == comment_id)).first()
            if row is None:
                raise StoreError(f"no comment with id {comment_id!r}")
            if me.id != row.user_id:
                if me.role is Role.VIEWER:
                    raise PermissionDenied(f"{me.username} is a viewer and may only resolve their own comments")
                if self._audit(conn, row.audit_id).author_id == me.id:
                    raise PermissionDenied(f"{me.username} wrote audit {row.audit_id} and may only resolve their "
                                           "own comments on it; another reviewer resolves the rest")
            conn.execute(sa.update(COMMENTS).where(COMMENTS.c.id == comment_id).values(
                resolved=bool(resolved), resolved_by=me.id if resolved else None,
                resolved_at=now() if resolved else None))
            append_event(conn, user_id=me.id, action="comment.resolved" if resolved else "comment.reopened",
                         audit_id=row.audit_id, comment_id=comment_id)

    def list_comments(self, audit_id: int, *, user: User | None, open_only: bool = False) -> tuple[Comment, ...]:
        """Comments on an audit, oldest first; ``open_only`` leaves out resolved ones."""
        with self._tx(write=False) as conn:
            self._current(conn, user)
            self._audit(conn, audit_id)
            return self._comments(conn, audit_id, open_only=open_only)
