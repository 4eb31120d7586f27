"""App layer: accounts, API keys, dashboard users and their sessions (the security facade).

Interfaces authenticate through `AccountService` and get an account name back; every other
call then goes to TradeService with that name. Secrets are handled like this:

- tradeguard API key: 64 hex characters, shown in clear once. Storage keeps only a non-secret
  lookup id (its first KEY_ID_LENGTH characters) and an argon2 hash of the whole key, so
  authentication verifies against exactly one hash. A verified key is remembered in memory
  as a keyed digest (HMAC with a per-process random key) so the slow hash runs once per key
  and process, and the comparison is constant time either way.
- OpenAlgo API key: not an account's. One tradeguard is one OpenAlgo login (its key comes
  from the settings); every account trades through it, isolated from the others' trades.
  A key an earlier version stored per account (encrypted, never read) is erased at start-up.
- dashboard users: argon2 password hash; MAX_FAILURES wrong passwords in a row lock the user
  out for LOCKOUT_SECONDS (the lock is stored, so a restart does not lift it).
- sessions: random tokens held in memory only as SHA-256 digests; they end at logout, after
  SESSION_SECONDS, or when the process stops.

Every change is audited (actor, time); no secret ever reaches a log line, an audit entry or an
error message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, replace

from tradeguard.app.errors import Conflict, InvalidRequest, LockedOut, NotFound, Unauthorized
from tradeguard.app.phantoms import PhantomLockouts
from tradeguard.app.ports import AccountStore, Clock, KeyHasher, SecretBox
from tradeguard.app.records import AccountRecord, AuditRecord, Record, UserRecord

log = logging.getLogger("tradeguard.accounts")

KEY_ID_LENGTH = 12
MAX_FAILURES = 5
LOCKOUT_SECONDS = 15 * 60
SESSION_SECONDS = 12 * 3600
_NS = 1_000_000_000
_API_KEY = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in dashboard user."""

    username: str
    account: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class FirstRun:
    """What `ensure_default` created: secrets to show once (None when they already existed)."""

    account: str
    api_key: str | None
    username: str
    password: str | None  # set only when it was generated here


class AccountService:
    """Accounts, keys, users and sessions over the AccountStore, KeyHasher and SecretBox ports.

    Call `await load()` once before use; afterwards the service keeps every account and user in
    memory and writes each change through (audited) before it answers.
    """

    def __init__(
        self,
        store: AccountStore,
        hasher: KeyHasher,
        box: SecretBox,
        clock: Clock,
        *,
        max_failures: int = MAX_FAILURES,
        lockout_seconds: float = LOCKOUT_SECONDS,
        session_seconds: float = SESSION_SECONDS,
    ) -> None:
        self.store = store
        self.hasher = hasher
        self.box = box
        self.clock = clock
        self.max_failures = max_failures
        self.lockout_ns = int(lockout_seconds * _NS)
        self.session_ns = int(session_seconds * _NS)
        self._accounts: dict[str, AccountRecord] = {}
        self._by_key_id: dict[str, str] = {}
        self._users: dict[str, UserRecord] = {}
        self._sessions: dict[bytes, Session] = {}
        self._pepper = secrets.token_bytes(32)
        self._verified: dict[bytes, str] = {}  # HMAC(pepper, key) -> account
        self._verifying: dict[bytes, asyncio.Future[str | None]] = {}
        self._dummy_hash: str | None = None
        self._lock = asyncio.Lock()
        self._phantoms = PhantomLockouts(max_failures, self.lockout_ns)

    async def load(self) -> None:
        self._accounts = {r.account: r for r in await self.store.accounts()}
        self._by_key_id = {r.api_key_id: r.account for r in self._accounts.values() if r.api_key_id}
        self._users = {u.username: u for u in await self.store.users()}
        if self._dummy_hash is None:  # made now, so an unknown user's first login is not slower
            self._dummy_hash = await asyncio.to_thread(self.hasher.hash, secrets.token_hex(16))

    # -- accounts and API keys --------------------------------------------------------------

    def accounts(self) -> list[str]:
        return sorted(self._accounts)

    def has_account(self, account: str) -> bool:
        return account in self._accounts

    async def create_account(self, account: str, actor: str) -> None:
        if not _NAME.match(account or ""):
            raise InvalidRequest("account name must be 1-50 letters, digits, '_', '-' or '.'")
        async with self._lock:
            if account in self._accounts:
                raise Conflict(f"account {account!r} already exists")
            record = AccountRecord(account=account, created_at=self.clock.now())
            await self._commit(record, actor, "account_created", account)
            self._accounts[account] = record

    async def issue_api_key(self, account: str, actor: str) -> str:
        """A new API key for the account (the old one stops working). Returned in clear once."""
        while True:
            key = secrets.token_hex(32)
            if key[:KEY_ID_LENGTH] not in self._by_key_id:
                break
        hashed = await asyncio.to_thread(self.hasher.hash, key)
        async with self._lock:
            record = self._account(account)
            updated = replace(record, api_key_hash=hashed, api_key_id=key[:KEY_ID_LENGTH])
            await self._commit(updated, actor, "api_key_issued", account)
            if record.api_key_id:
                self._by_key_id.pop(record.api_key_id, None)
            self._verified = {d: a for d, a in self._verified.items() if a != account}
            self._accounts[account] = updated
            self._by_key_id[key[:KEY_ID_LENGTH]] = account
        return key

    async def authenticate(self, apikey: str) -> str:
        """The account an API key belongs to; Unauthorized otherwise (the message never
        repeats the key)."""
        if not isinstance(apikey, str) or not _API_KEY.match(apikey):
            raise Unauthorized("invalid apikey")
        digest = hmac.digest(self._pepper, apikey.encode(), "sha256")
        known = self._verified.get(digest)
        if known is not None:
            return known
        pending = self._verifying.get(digest)
        if pending is None:  # concurrent requests with one new key share one slow check
            pending = asyncio.ensure_future(self._verify(apikey, digest))
            self._verifying[digest] = pending
            pending.add_done_callback(lambda _: self._verifying.pop(digest, None))
        account = await asyncio.shield(pending)
        if account is None:
            raise Unauthorized("invalid apikey")
        return account

    def verified_account(self, apikey: str) -> str | None:
        """The account of a key already verified in this process (no slow hash), else None:
        the caller charges an unverified key's check to the client's budget first."""
        if not isinstance(apikey, str) or not _API_KEY.match(apikey):
            return None
        return self._verified.get(hmac.digest(self._pepper, apikey.encode(), "sha256"))

    async def _verify(self, apikey: str, digest: bytes) -> str | None:
        account = self._by_key_id.get(apikey[:KEY_ID_LENGTH])
        record = self._accounts.get(account) if account else None
        if record is None or not record.api_key_hash:
            return None
        if not await asyncio.to_thread(self.hasher.verify, record.api_key_hash, apikey):
            return None
        current = self._accounts.get(record.account)
        if current is None or current.api_key_hash != record.api_key_hash:
            return None  # the key was replaced meanwhile
        self._verified[digest] = record.account
        return record.account

    # -- dashboard users ------------------------------------------------------------------

    def user_account(self, username: str) -> str | None:
        user = self._users.get(username)
        return None if user is None else user.account

    async def create_user(self, username: str, password: str, account: str, actor: str) -> None:
        if not _NAME.match(username or ""):
            raise InvalidRequest("username must be 1-50 letters, digits, '_', '-' or '.'")
        if len(password) < 8:
            raise InvalidRequest("the password must have at least 8 characters")
        self._account(account)
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        async with self._lock:
            if username in self._users:
                raise Conflict(f"user {username!r} already exists")
            now = self.clock.now()
            user = UserRecord(username, account, hashed, created_at=now, updated_at=now)
            await self._commit(user, actor, "user_created", username, account=account)
            self._users[username] = user

    async def login(self, username: str, password: str) -> str:
        """Check a password and open a session; returns the session token. Raises LockedOut
        while the user is locked, Unauthorized for a wrong name or password (same message).

        The failure count and the lock are decided atomically under the service lock with the
        state as it is after the (slow, threaded) password check, so concurrent wrong passwords
        cannot lift or skip a lock, and a right password that arrives while locked is refused.
        An unknown username costs the same hash check and locks the same way (PhantomLockouts)
        so that it cannot be told from a real one."""
        user = self._users.get(username)
        if user is None:
            return await self._unknown_login(username, password)
        if _is_locked(user, self.clock.now()):
            await self._audit("login_refused", username, reason="locked out")
            raise LockedOut("too many failed logins: try again later")
        ok = await asyncio.to_thread(self.hasher.verify, user.password_hash, password)
        async with self._lock:
            now = self.clock.now()
            user = self._users[username]
            if _is_locked(user, now):  # locked while this attempt was being checked
                await self._audit("login_refused", username, reason="locked out")
                raise LockedOut("too many failed logins: try again later")
            if not ok:
                failures = user.failed_logins + 1
                locked = failures >= self.max_failures
                updated = replace(
                    user,
                    failed_logins=0 if locked else failures,
                    locked_until=now + self.lockout_ns if locked else None,
                    updated_at=now,
                )
                action = "user_locked_out" if locked else "login_failed"
                await self._commit(updated, username, action, username, failures=failures)
                self._users[username] = updated
                if locked:
                    log.warning("dashboard user locked out after %d failed logins", failures)
                    raise LockedOut("too many failed logins: try again later")
                raise Unauthorized("wrong username or password")
            updated = replace(user, failed_logins=0, locked_until=None, updated_at=now)
            await self._commit(updated, username, "login", username)
            self._users[username] = updated
        token = secrets.token_urlsafe(32)
        self._sessions[_token_digest(token)] = Session(
            username, user.account, now + self.session_ns
        )
        return token

    async def _unknown_login(self, username: str, password: str) -> str:
        if self._phantoms.locked(username, self.clock.now()):
            await self._audit("login_refused", username, reason="unknown user, locked out")
            raise LockedOut("too many failed logins: try again later")
        await asyncio.to_thread(self._dummy_verify, password)  # same time as a real check
        async with self._lock:
            locked = self._phantoms.fail(username, self.clock.now())
        await self._audit("login_failed", username, reason="unknown user")
        if locked:
            raise LockedOut("too many failed logins: try again later")
        raise Unauthorized("wrong username or password")

    def session(self, token: str | None) -> Session | None:
        """The live session of a token, or None (unknown, expired or logged out)."""
        if not token or len(token) > 200:
            return None
        digest = _token_digest(token)
        found = self._sessions.get(digest)
        if found is None:
            return None
        if self.clock.now() >= found.expires_at:
            self._sessions.pop(digest, None)
            return None
        return found

    def csrf_token(self, token: str | None) -> str | None:
        """The CSRF token bound to a live session (a keyed digest of its token), None without
        one: a token taken from one session is worthless in another."""
        if token is None or self.session(token) is None:
            return None
        return hmac.new(self._pepper, b"csrf:" + token.encode(), "sha256").hexdigest()

    async def logout(self, token: str | None) -> None:
        if not token:
            return
        found = self._sessions.pop(_token_digest(token), None)
        if found is not None:
            await self._audit("logout", found.username)

    # -- first run ------------------------------------------------------------------------

    async def ensure_default(
        self,
        account: str,
        username: str,
        password: str,
    ) -> FirstRun:
        """Make sure `account` exists with an API key and a dashboard user (first run). A
        generated API key or password is returned once; existing ones are left alone. An
        OpenAlgo key stored by an earlier version (encrypted, never used) is erased."""
        api_key = generated = None
        if account not in self._accounts:
            await self.create_account(account, actor="bootstrap")
        if not self._accounts[account].api_key_hash:
            api_key = await self.issue_api_key(account, actor="bootstrap")
        await self._erase_stored_openalgo_keys()
        if username not in self._users:
            if not password:
                generated = password = secrets.token_urlsafe(15)
            await self.create_user(username, password, account, actor="bootstrap")
        return FirstRun(account, api_key, username, generated)

    async def _erase_stored_openalgo_keys(self) -> None:
        """One tradeguard is one OpenAlgo login (TRADEGUARD_OPENALGO_API_KEY): accounts do not
        carry their own OpenAlgo key any more, so none is kept at rest."""
        async with self._lock:
            for name, record in sorted(self._accounts.items()):
                if record.openalgo_key_encrypted is None:
                    continue
                updated = replace(record, openalgo_key_encrypted=None)
                await self._commit(updated, "bootstrap", "openalgo_key_erased", name)
                self._accounts[name] = updated

    # -- plumbing -------------------------------------------------------------------------

    def _account(self, account: str) -> AccountRecord:
        try:
            return self._accounts[account]
        except KeyError:
            raise NotFound(f"account {account!r} not found") from None

    def _dummy_verify(self, password: str) -> None:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash(secrets.token_hex(16))
        self.hasher.verify(self._dummy_hash, password)

    async def _commit(
        self,
        record: AccountRecord | UserRecord,
        actor: str,
        action: str,
        subject: str,
        **detail: object,
    ) -> None:
        prefix = "account" if isinstance(record, AccountRecord) else "user"
        entry = AuditRecord(self.clock.now(), actor, action, f"{prefix}:{subject}", dict(detail))
        records: list[Record] = [record, entry]
        await self.store.commit(records)

    async def _audit(self, action: str, username: str, **detail: object) -> None:
        entry = AuditRecord(self.clock.now(), username, action, f"user:{username}", dict(detail))
        await self.store.commit([entry])


def _is_locked(user: UserRecord, now: int) -> bool:
    return user.locked_until is not None and now < user.locked_until


def _token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
