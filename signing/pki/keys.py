"""Private keys stored sealed: a signer's under their PIN and a server pepper, the CA's under the
server secret alone.

Blob layout (version 1), all integers big-endian::

    offset  size  field
    0       1     version (= 1)
    1       1     log2(scrypt N)
    2       1     scrypt r
    3       1     scrypt p
    4       16    scrypt salt
    20      12    AES-GCM nonce
    32      ...   AES-256-GCM ciphertext of the PKCS#8 DER key, with its 16-byte tag

The 32-byte header is authenticated as associated data, so the KDF parameters cannot be
downgraded without the unseal failing. The key-encryption key is
``HKDF-SHA256(ikm=scrypt(PIN, salt), salt=pepper)``: the pepper is a server secret kept out of
the database, so a stolen database alone does not allow an offline PIN search.

A key sealed under the server secret (:func:`seal_with_secret`, for the CA and the TSA kept in the
registry) has no PIN to stretch: the secret is a random server key, so HKDF alone derives the
key-encryption key, with a fresh salt per blob and the key's purpose in HKDF's info (a root key's
blob cannot be passed off as a TSA key's). Layout (version 1)::

    offset  size  field
    0       1     version (= 1)
    1       16    HKDF salt
    17      12    AES-GCM nonce
    29      ...   AES-256-GCM ciphertext of the PKCS#8 DER key, with its 16-byte tag

The 29-byte header is authenticated as associated data.
"""

from __future__ import annotations

import os
import struct
import unicodedata
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from signing.errors import InvalidPin, KeyBlobError, WrongSecret

__all__ = [
    "ServerSealedKey",
    "generate_private_key",
    "seal_private_key",
    "seal_with_secret",
    "unseal_private_key",
    "unseal_with_secret",
]

ServerSealedKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

BLOB_VERSION: Final = 1
# scrypt N=2^14, r=8, p=1 (16 MiB): ~33 ms on this project's 2-core machines, measured.
# Together with loading the key this keeps an unseal inside the 30-50 ms budget of a sign request.
SCRYPT_LOG2_N: Final = 14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
# Refuse blobs that ask for more than this: a crafted blob must not make the server burn
# gigabytes of memory deriving a key.
_MAX_LOG2_N: Final = 20
_MAX_R: Final = 16
_MAX_P: Final = 4

_HEADER = struct.Struct(">BBBB16s12s")
_HKDF_INFO: Final = b"docgen signer key-encryption key v1"
_MIN_CIPHERTEXT = 16 + 1  # GCM tag plus at least one byte

SECRET_BLOB_VERSION: Final = 1
_SECRET_HEADER = struct.Struct(">B16s12s")
_SECRET_HKDF_INFO: Final = b"docgen server-sealed key v1: "


def generate_private_key() -> rsa.RSAPrivateKey:
    """Generate a new RSA-2048 signing key (public exponent 65537)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _normalise_pin(pin: str) -> bytes:
    # NFKC so that a PIN typed with full-width digits on a phone keyboard still matches.
    return unicodedata.normalize("NFKC", pin).encode("utf-8")


def _check_pepper(pepper: bytes) -> None:
    # It should be >= 32 random bytes; enforcing the length of a configured secret is the
    # service's settings' job, the library only refuses none at all.
    if not pepper:
        raise ValueError("pepper must not be empty")


def _derive_kek(pin: str, pepper: bytes, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    stretched = Scrypt(salt=salt, length=32, n=1 << log2_n, r=r, p=p).derive(_normalise_pin(pin))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=pepper, info=_HKDF_INFO).derive(
        stretched
    )


def seal_private_key(key: rsa.RSAPrivateKey, pin: str, pepper: bytes) -> bytes:
    """Encrypt ``key`` under ``pin`` and the server ``pepper``; return the self-describing blob.

    Raises:
        ValueError: the PIN or the pepper is empty.
    """
    if not pin:
        raise ValueError("PIN must not be empty")
    _check_pepper(pepper)
    salt = os.urandom(16)
    nonce = os.urandom(12)
    header = _HEADER.pack(BLOB_VERSION, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, salt, nonce)
    kek = _derive_kek(pin, pepper, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    plaintext = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return header + AESGCM(kek).encrypt(nonce, plaintext, header)


def unseal_private_key(blob: bytes, pin: str, pepper: bytes) -> rsa.RSAPrivateKey:
    """Decrypt a blob made by :func:`seal_private_key`.

    Raises:
        InvalidPin: the PIN (or the pepper) is wrong, or the blob was tampered with;
            AES-GCM cannot tell these apart.
        KeyBlobError: the blob is truncated, of an unknown version, asks for KDF parameters
            outside the accepted bounds, or does not hold an RSA key.
        ValueError: the pepper is empty.
    """
    _check_pepper(pepper)
    if len(blob) < _HEADER.size + _MIN_CIPHERTEXT:
        raise KeyBlobError("sealed key blob is truncated")
    version, log2_n, r, p, salt, nonce = _HEADER.unpack_from(blob)
    if version != BLOB_VERSION:
        raise KeyBlobError(f"unknown sealed key blob version {version}")
    if not (1 <= log2_n <= _MAX_LOG2_N and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        raise KeyBlobError("sealed key blob has out-of-range KDF parameters")
    header = blob[: _HEADER.size]
    kek = _derive_kek(pin, pepper, salt, log2_n, r, p)
    try:
        plaintext = AESGCM(kek).decrypt(nonce, blob[_HEADER.size :], header)
    except InvalidTag:
        raise InvalidPin("the PIN does not unlock this key") from None
    # The GCM tag proves these are the bytes we sealed from a key that cryptography had
    # already validated, so skip the RSA consistency check (it costs ~35 ms per load).
    key = serialization.load_der_private_key(
        plaintext, password=None, unsafe_skip_rsa_key_validation=True
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyBlobError("sealed key blob does not hold an RSA key")
    return key


def _secret_kek(secret: bytes, salt: bytes, purpose: str) -> bytes:
    info = _SECRET_HKDF_INFO + purpose.encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def seal_with_secret(key: ServerSealedKey, secret: bytes, purpose: str) -> bytes:
    """Encrypt ``key`` under the server ``secret`` for ``purpose`` (e.g. ``"root"``); return the
    self-describing blob.

    Raises:
        ValueError: the secret or the purpose is empty.
    """
    _check_pepper(secret)
    if not purpose:
        raise ValueError("purpose must not be empty")
    salt, nonce = os.urandom(16), os.urandom(12)
    header = _SECRET_HEADER.pack(SECRET_BLOB_VERSION, salt, nonce)
    plaintext = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return header + AESGCM(_secret_kek(secret, salt, purpose)).encrypt(nonce, plaintext, header)


def unseal_with_secret(blob: bytes, secret: bytes, purpose: str) -> ServerSealedKey:
    """Decrypt a blob made by :func:`seal_with_secret` with the same ``secret`` and ``purpose``.

    Raises:
        WrongSecret: another secret or purpose, or the blob was tampered with.
        KeyBlobError: the blob is truncated, of an unknown version, or holds neither an RSA nor
            an EC key.
        ValueError: the secret is empty.
    """
    _check_pepper(secret)
    if len(blob) < _SECRET_HEADER.size + _MIN_CIPHERTEXT:
        raise KeyBlobError("sealed key blob is truncated")
    version, salt, nonce = _SECRET_HEADER.unpack_from(blob)
    if version != SECRET_BLOB_VERSION:
        raise KeyBlobError(f"unknown sealed key blob version {version}")
    header = blob[: _SECRET_HEADER.size]
    try:
        plaintext = AESGCM(_secret_kek(secret, salt, purpose)).decrypt(
            nonce, blob[_SECRET_HEADER.size :], header
        )
    except InvalidTag:
        raise WrongSecret(f"the server secret does not unseal this {purpose} key") from None
    key = serialization.load_der_private_key(plaintext, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyBlobError("sealed key blob holds neither an RSA nor an EC key")
    return key
