"""Adapters layer: the security ports: `Argon2Hasher` (KeyHasher on argon2-cffi) and
`FernetBox` (SecretBox on cryptography's Fernet), plus the secret-key and private-file helpers
bootstrap uses on first run (files created with 0600 permissions)."""

from __future__ import annotations

import os
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken


class Argon2Hasher:
    """argon2id with argon2-cffi's default (RFC 9106 low-memory) parameters unless told;
    tests pass cheaper ones."""

    def __init__(self, time_cost: int | None = None, memory_cost: int | None = None) -> None:
        default = PasswordHasher()
        self._hasher = PasswordHasher(
            time_cost=default.time_cost if time_cost is None else time_cost,
            memory_cost=default.memory_cost if memory_cost is None else memory_cost,
        )

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, hashed: str, secret: str) -> bool:
        try:
            return bool(self._hasher.verify(hashed, secret))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


class FernetBox:
    """Fernet (AES-128-CBC + HMAC-SHA256) with one url-safe base64 32-byte key."""

    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise ValueError(
                "the secret key must be 32 url-safe base64-encoded bytes (Fernet.generate_key())"
            ) from None

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("the secret was not encrypted with this secret key") from None


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (0600), replacing any previous one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def load_or_create_secret_key(configured: str, path: Path) -> tuple[str, bool]:
    """The Fernet key: the configured one, else the one in `path`, else a new one written
    there (0600). Returns (key, created)."""
    if configured:
        return configured, False
    if path.is_file():
        return path.read_text(encoding="utf-8").strip(), False
    key = Fernet.generate_key().decode()
    write_private(path, key + "\n")
    return key, True
