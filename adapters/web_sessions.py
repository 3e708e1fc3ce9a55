"""Signed, expiring session tokens for the web widget: the browser keeps one, and it names the
same web visitor (and so the same customer) across reloads and reconnects."""

from __future__ import annotations

import secrets
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_SALT = "shopbot.web.session.v1"


class SessionTokens:
    def __init__(self, secret: str, *, ttl_s: float) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._ttl = ttl_s

    @staticmethod
    def new_visitor() -> str:
        return secrets.token_urlsafe(16)

    def issue(self, visitor: str) -> str:
        return self._serializer.dumps({"v": visitor})

    def visitor(self, token: str) -> str | None:
        """The visitor a token names, or None when it is forged, damaged or expired."""
        try:
            payload = self._serializer.loads(token, max_age=int(self._ttl))
        except (BadSignature, SignatureExpired):
            return None
        visitor = payload.get("v") if isinstance(payload, dict) else None
        return visitor if isinstance(visitor, str) and 0 < len(visitor) <= 64 else None


def secret_from_data_dir(data_dir: Path) -> str:
    """A random secret created once and kept (mode 600) in the data directory, so tokens
    outlive a restart without the developer having to set SHOPBOT_WEB__SESSION_SECRET."""
    path = data_dir / "web-session-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret
