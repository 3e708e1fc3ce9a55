"""Signed, expiring session tokens for the web widget: the browser keeps one, and it names the
same web visitor (and so the same customer) across reloads and reconnects."""

from __future__ import annotations

import os
import secrets
import tempfile
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
    existing = path.read_text().strip() if path.exists() else None
    if existing:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    # Written whole to a private file, then put in place: a second process starting at the
    # same moment reads either no file or the whole secret, never an empty one.
    fd, scratch = tempfile.mkstemp(dir=data_dir, prefix=".web-session-secret.")
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    try:
        if existing == "":
            os.replace(scratch, path)  # an empty file is no secret: replace it
        else:
            os.link(scratch, path)  # fails if another process got there first: use theirs
    except FileExistsError:
        pass
    finally:
        Path(scratch).unlink(missing_ok=True)
    return path.read_text().strip()
