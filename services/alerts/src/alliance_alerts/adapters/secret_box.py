"""Webhook secrets at rest: AES-256-GCM (`cryptography`), a key id stored beside each secret so
the encryption key can rotate.

Keys come from `ALLIANCE_WEBHOOK_KEYS` or the file named by `ALLIANCE_WEBHOOK_KEYS_FILE`:
`kid:base64key[,kid:base64key...]`, 32-byte keys, the first one current. To rotate, put a new
key first and keep the old ones until `python -m alliance_alerts.rekey` has re-sealed every
secret with the new one. The clinic id is the associated data: a sealed secret moved to
another clinic's row does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class SecretBoxError(Exception):
    """No key configured, an unknown key id, or a sealed secret that does not open."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    blob: bytes  # nonce + ciphertext + tag


class SecretBox:
    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise SecretBoxError("the current key id has no key")
        for kid, key in keys.items():
            if len(key) != 32:
                raise SecretBoxError(f"key {kid}: must be 32 bytes (AES-256)")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self.current = current

    @classmethod
    def parse(cls, spec: str) -> SecretBox:
        """`kid:base64key[,kid:base64key...]`, the first current."""
        keys: dict[str, bytes] = {}
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            kid, _, encoded = part.partition(":")
            try:
                keys[kid] = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise SecretBoxError(f"key {kid}: not base64") from exc
        if not keys:
            raise SecretBoxError("no keys")
        return cls(keys, next(iter(keys)))

    def seal(self, secret: str, clinic_id: str) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.current].encrypt(nonce, secret.encode(), clinic_id.encode())
        return Sealed(self.current, nonce + sealed)

    def open(self, sealed: Sealed, clinic_id: str) -> str:
        aead = self._keys.get(sealed.key_id)
        if aead is None:
            raise SecretBoxError(f"unknown key id {sealed.key_id!r}")
        nonce, ciphertext = sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:]
        try:
            return aead.decrypt(nonce, ciphertext, clinic_id.encode()).decode()
        except InvalidTag as exc:
            raise SecretBoxError("a sealed secret did not open") from exc
