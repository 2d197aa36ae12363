"""Single sign-on identities (OpenID Connect) and the accounts they sign in as.

The identity provider says who someone is (issuer, subject, e-mail); the store says
what they may do. An admin gives a role before anyone signs in, with an account named
by the person's e-mail or subject (``python -m audit users add-sso alice@example.org
--role reviewer``); such an account has no password, so it can only be used through
the identity provider. The first sign-in links the identity (issuer and subject) to
that account, so a later change of e-mail at the provider keeps it. An identity with
no account is refused, or gets a new viewer account, as the deployment chooses
(``unknown="refuse" | "viewer"``). Roles change with ``users set-role`` as for local
accounts, which also ends that account's sessions.

A local account's name is never taken over: an identity whose e-mail names a local
(password) account is refused.
"""

from __future__ import annotations

import enum
from typing import Any

import sqlalchemy as sa

from audit.errors import PermissionDenied, StoreError
from audit.store.accounts import StoreBase, append_event, check_enum, check_text, now
from audit.store.credentials import check_username, lookalike_of
from audit.store.schema import IDENTITIES, USERS, Role, User

# Stored instead of a password hash: argon2 cannot parse it, so no password ever matches.
SSO_ONLY = "!sso-only"
_MAX_CLAIM = 255


class UnknownIdentities(enum.StrEnum):
    """What happens to an identity that no account is given to."""

    REFUSE = "refuse"
    VIEWER = "viewer"


def _user(row: Any) -> User:
    return User(id=row.id, username=row.username, role=Role(row.role), created_at=row.created_at,
                session_version=row.session_version)


class SsoStore(StoreBase):
    """Accounts for identity-provider sign-in (mixed into :class:`audit.store.core.AuditStore`)."""

    def add_sso_user(self, name: str, *, role: Role | str, actor: User | None = None) -> User:
        """An account without a password, for the identity whose e-mail or subject is ``name``.

        Raises
        ------
        StoreError
            If the name is taken (or looks like a taken one) or is not a valid username.
        PermissionDenied
            If ``actor`` is not an admin.
        """
        name = check_username(name).casefold() if "@" in name else check_username(name)
        role = check_enum(Role, role, "role")
        with self._tx(write=True) as conn:
            actor_id = self._check_actor(conn, actor)
            return self._insert(conn, name, role, actor_id)

    def _insert(self, conn: sa.Connection, name: str, role: Role, actor_id: int | None) -> User:
        taken = lookalike_of(name, conn.execute(sa.select(USERS.c.username)).scalars())
        if taken is not None:
            raise StoreError(f"a user named {taken!r} already exists" if taken == name else
                             f"username {name!r} looks like the existing user {taken!r}; choose another")
        created = now()
        user_id = conn.execute(sa.insert(USERS).values(
            username=name, password_hash=SSO_ONLY, role=role.value, created_at=created, session_version=0,
        )).inserted_primary_key[0]
        append_event(conn, user_id=actor_id, action="user.created", username=name, role=role.value, sso=True)
        return User(id=user_id, username=name, role=role, created_at=created, session_version=0)

    def sso_sign_in(self, *, issuer: str, subject: str, email: str | None = None, email_verified: bool | None = None,
                    unknown: UnknownIdentities | str = UnknownIdentities.REFUSE) -> User:
        """The account an identity signs in as; PermissionDenied, saying why, when it may not.

        Parameters
        ----------
        issuer, subject : str
            The ID token's ``iss`` and ``sub``: together, who this is.
        email : str, optional
            Used to find an account an admin made for this person, only when the
            provider has not said it is unverified (``email_verified`` False).
        unknown : {"refuse", "viewer"}
            For an identity with no account.
        """
        issuer = check_text(issuer, "the identity's issuer", max_len=_MAX_CLAIM)
        subject = check_text(subject, "the identity's subject", max_len=_MAX_CLAIM)
        unknown = check_enum(UnknownIdentities, unknown, "unknown identities")
        mail = email.strip().casefold() if isinstance(email, str) and email.strip() and email_verified is not False \
            else None
        with self._tx(write=True) as conn:
            linked = conn.execute(sa.select(USERS).join(IDENTITIES, IDENTITIES.c.user_id == USERS.c.id)
                                  .where(IDENTITIES.c.issuer == issuer, IDENTITIES.c.subject == subject)).first()
            if linked is not None:
                return _user(linked)
            names = [n for n in (mail, subject) if n]
            row = conn.execute(sa.select(USERS).where(USERS.c.username.in_(names))
                               .order_by(USERS.c.username == subject)).first()
            if row is not None and row.password_hash != SSO_ONLY:
                raise PermissionDenied(f"{row.username} is a local account with a password: sign in with it, "
                                       "or ask an admin for an account for single sign-on")
            if row is None and unknown is UnknownIdentities.REFUSE:
                raise PermissionDenied(f"{mail or subject} has no account in this audit database; ask an admin "
                                       f"to add one with `python -m audit users add-sso {mail or subject} --role viewer`")
            user = _user(row) if row is not None else self._insert(conn, check_username(mail or subject),
                                                                   Role.VIEWER, None)
            conn.execute(sa.insert(IDENTITIES).values(issuer=issuer, subject=subject, email=mail, user_id=user.id,
                                                      created_at=now()))
            append_event(conn, user_id=user.id, action="user.identity_linked", username=user.username,
                         issuer=issuer, subject=subject)
            return user
