"""Reading the RSA key files the payment platforms hand out, in whatever shape they come.

WeChat Pay gives PEM files (PKCS#8 merchant key, SubjectPublicKeyInfo platform key); Alipay's
key tool gives bare base64 text (PKCS#1 or PKCS#8 app key, SubjectPublicKeyInfo Alipay key).
Both SDKs are picky about the PEM they accept (wechatpayv3 only knows "BEGIN PRIVATE KEY" with
LF line ends), so every key is parsed here with `cryptography` and handed on as canonical PEM.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class GatewayConfigError(Exception):
    """A gateway is partly configured, or its configuration cannot work."""


class KeyFileError(GatewayConfigError):
    """A configured key file is missing or does not hold a usable RSA key."""


def required_settings(settings: Mapping[str, Any], names: Sequence[str]) -> dict[str, str] | None:
    """The named settings as stripped strings; None when none is set (the gateway is off).

    Some set and some not is a half-finished configuration: that raises, so it gets logged
    instead of silently hiding the channel.
    """
    values = {name: str(settings.get(name) or "").strip() for name in names}
    missing = [name for name, value in values.items() if not value]
    if len(missing) == len(names):
        return None
    if missing:
        raise GatewayConfigError("missing settings: " + ", ".join(missing))
    return values


def file_stamp(path: str) -> tuple[str, int, int]:
    """(path, mtime, size) of a key file: part of a cache key, so a replaced key is reloaded."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    return (path, stat.st_mtime_ns, stat.st_size)


def _read(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or exc}") from exc


def _der(data: bytes) -> bytes | None:
    """Bare base64 (Alipay's key tool output) → DER; None when it is not base64."""
    try:
        return base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def load_private_key_pem(path: str | Path) -> str:
    """An RSA private key file (PEM or bare base64, PKCS#1 or #8) as PKCS#8 PEM text."""
    data = _read(path)
    key: object
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            der = _der(data)
            if der is None:
                raise ValueError("neither PEM nor base64")
            key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} does not hold an unencrypted private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError(f"{path} is not an RSA private key")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_public_key_pem(path: str | Path) -> str:
    """An RSA public key file (PEM or bare base64) as SubjectPublicKeyInfo PEM text."""
    data = _read(path)
    key: object
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            der = _der(data)
            if der is None:
                raise ValueError("neither PEM nor base64")
            key = serialization.load_der_public_key(der)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} does not hold a public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFileError(f"{path} is not an RSA public key")
    return key.public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode("ascii")
