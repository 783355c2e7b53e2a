"""Settings, read once from the environment at a process edge.

The names are the contract of DESIGN.md. With nothing set, everything is embedded under
`./var`: a SQLite file, a folder of objects, an in-process broker, and a secret generated on
first run. Code below this layer receives values as keyword arguments, never the environment.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from jobs.notify_http import (
    RETRY_SCHEDULE_S,
    SecretRefused,
    WebhookTarget,
    is_loopback,
    secret_key,
)

DEFAULT_DATABASE_URL = "sqlite:///var/rosterjobs.db"
DEFAULT_STORAGE_URL = "var/objects"
DEFAULT_LINK_TTL = 900
OPS_TOKEN_MIN_CHARS = 32


class SettingsError(ValueError):
    """A setting has a value the service cannot use."""


class Secret(str):
    """A setting never to be shown: to every caller the plain string it is, but its repr
    (what a dataclass's repr, a debugger or a traceback's locals print) is `'***'`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr("***")


class SecretUrl(str):
    """A URL that may carry a password (the database's, the broker's). Its repr still names
    the service and host, with the password as `***`: `'postgresql://app:***@db/roster'`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(masked_url(self))


_PASSWORD_PARAMETER = re.compile(r"(password=)[^&#]*", re.IGNORECASE)


def masked_url(url: str) -> str:
    """`url` with its password, in the user part or a `password=` parameter, as `***`.

    The user part ends at the last `@`, so a password with an unescaped `@` or `/` in it is
    still masked whole (masking too much is the safe side)."""
    scheme, separator, rest = url.partition("://")
    user_part, at, host = rest.rpartition("@")
    if separator and at and ":" in user_part:
        rest = f"{user_part.partition(':')[0]}:***@{host}"
    return _PASSWORD_PARAMETER.sub(r"\1***", f"{scheme}{separator}{rest}")


_SECRET_FIELDS: dict[str, type[str]] = {
    "database_url": SecretUrl,
    "broker_url": SecretUrl,
    "secret_key": Secret,
    "ops_token": Secret,
}


@dataclass(frozen=True)
class Settings:
    """The service's settings. The secrets among them (`_SECRET_FIELDS`) are `Secret` or
    `SecretUrl` strings however the settings are built, so no repr of them shows one."""

    database_url: str = DEFAULT_DATABASE_URL
    broker_url: str | None = None
    storage_url: str = DEFAULT_STORAGE_URL
    secret_key: str = ""
    link_ttl: int = DEFAULT_LINK_TTL
    max_token_seconds: int = 86_400
    base_dir: Path = Path(".")
    queue_namespace: str = "rosterjobs"
    max_attempts: int = 5
    batch_rows: int = 1000
    import_max_bytes: int = 100 * 1024 * 1024
    import_max_rows: int = 1_000_000
    import_max_columns: int = 200
    import_max_cell_chars: int = 10_000
    ops_token: str | None = None
    heartbeat_seconds: float = 10.0
    reap_seconds: float = 20.0
    stale_after_seconds: int = 60
    district_max_running: int = 2
    resend_queued_after_seconds: int = 900
    retry_min_backoff_ms: int = 2_000
    retry_max_backoff_ms: int = 300_000
    worker_poll_ms: int = 100
    export_progress_seconds: float = 1.0
    pdf_max_rows: int = 10_000
    webhook: WebhookTarget | None = None
    """The portal's webhook (`ROSTERJOBS_WEBHOOK_*`, `_webhook`); None: no notifications."""
    import_history_days: int = 90

    def __post_init__(self) -> None:
        """Wrap the secrets, for settings from `from_env`, from a test or from `replace`."""
        for name, secret_type in _SECRET_FIELDS.items():
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, secret_type(value))

    @property
    def embedded_broker(self) -> bool:
        """True when jobs run inside the process that submits them (no broker configured)."""
        return not self.broker_url

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Settings:
        env = os.environ if environ is None else environ
        base_dir = (cwd or Path.cwd()).resolve()
        return cls(
            database_url=env.get("ROSTERJOBS_DATABASE_URL") or DEFAULT_DATABASE_URL,
            broker_url=env.get("ROSTERJOBS_BROKER_URL") or None,
            storage_url=env.get("ROSTERJOBS_STORAGE_URL") or DEFAULT_STORAGE_URL,
            secret_key=env.get("ROSTERJOBS_SECRET_KEY") or _generated_secret(base_dir),
            link_ttl=_positive_int(env, "ROSTERJOBS_LINK_TTL", DEFAULT_LINK_TTL),
            max_token_seconds=_positive_int(env, "ROSTERJOBS_MAX_TOKEN_SECONDS", 86_400),
            base_dir=base_dir,
            queue_namespace=env.get("ROSTERJOBS_QUEUE_NAMESPACE") or "rosterjobs",
            max_attempts=_positive_int(env, "ROSTERJOBS_MAX_ATTEMPTS", 5),
            batch_rows=_positive_int(env, "ROSTERJOBS_BATCH_ROWS", 1000),
            import_max_bytes=_positive_int(env, "ROSTERJOBS_IMPORT_MAX_BYTES", 100 * 1024 * 1024),
            import_max_rows=_positive_int(env, "ROSTERJOBS_IMPORT_MAX_ROWS", 1_000_000),
            import_max_columns=_positive_int(env, "ROSTERJOBS_IMPORT_MAX_COLUMNS", 200),
            import_max_cell_chars=_positive_int(env, "ROSTERJOBS_IMPORT_MAX_CELL_CHARS", 10_000),
            ops_token=_ops_token(env.get("ROSTERJOBS_OPS_TOKEN") or None),
            heartbeat_seconds=_positive_seconds(env, "ROSTERJOBS_HEARTBEAT_SECONDS", 10.0),
            reap_seconds=_positive_seconds(env, "ROSTERJOBS_REAP_SECONDS", 20.0),
            stale_after_seconds=_positive_int(env, "ROSTERJOBS_STALE_AFTER_SECONDS", 60),
            district_max_running=_positive_int(env, "ROSTERJOBS_DISTRICT_MAX_RUNNING", 2),
            resend_queued_after_seconds=_positive_int(
                env, "ROSTERJOBS_RESEND_QUEUED_AFTER_SECONDS", 900
            ),
            retry_min_backoff_ms=_positive_int(env, "ROSTERJOBS_RETRY_MIN_BACKOFF_MS", 2_000),
            retry_max_backoff_ms=_positive_int(env, "ROSTERJOBS_RETRY_MAX_BACKOFF_MS", 300_000),
            worker_poll_ms=_positive_int(env, "ROSTERJOBS_WORKER_POLL_MS", 100),
            export_progress_seconds=_seconds(env, "ROSTERJOBS_EXPORT_PROGRESS_SECONDS", 1.0),
            pdf_max_rows=_positive_int(env, "ROSTERJOBS_PDF_MAX_ROWS", 10_000),
            webhook=_webhook(env),
            import_history_days=_positive_int(env, "ROSTERJOBS_IMPORT_HISTORY_DAYS", 90),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from err
    if value <= 0:
        raise SettingsError(f"{name} must be greater than zero, not {value}")
    return value


def _positive_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    value = _seconds(env, name, default)
    if value == 0:
        raise SettingsError(f"{name} must be greater than zero, not {env.get(name)}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as err:
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from err
    if not value >= 0 or value == float("inf"):
        raise SettingsError(f"{name} must be zero or more seconds, not {raw}")
    return value


def _ops_token(token: str | None) -> str | None:
    """The operations credential (`/ops`, `/metrics`); unset switches the dashboard off. A
    short one is refused: it is the only thing between the internet and the dashboard."""
    if token is not None and len(token) < OPS_TOKEN_MIN_CHARS:
        raise SettingsError(
            f"ROSTERJOBS_OPS_TOKEN must be at least {OPS_TOKEN_MIN_CHARS} characters long"
        )
    return token


def _generated_secret(base_dir: Path) -> str:
    """The embedded default: a random key kept in ./var/secret_key, made on first use."""
    path = base_dir / "var" / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


# --- the portal's webhook (jobs.notify) -------------------------------------------------

WEBHOOK_TIMEOUT_S = 10.0


def _webhook(env: Mapping[str, str]) -> WebhookTarget | None:
    """`ROSTERJOBS_WEBHOOK_URL` (unset: no notifications), its secret (and the previous
    one during a rotation), the timeout of one attempt and the retry schedule."""
    url = env.get("ROSTERJOBS_WEBHOOK_URL") or None
    if url is None:
        return None
    _check_webhook_url(url)
    secrets_ = [_webhook_secret(env, "ROSTERJOBS_WEBHOOK_SECRET", required=True)]
    previous = _webhook_secret(env, "ROSTERJOBS_WEBHOOK_PREVIOUS_SECRET", required=False)
    return WebhookTarget(
        url=url,
        secrets=tuple(Secret(s) for s in [*secrets_, previous] if s),
        timeout_s=_positive_seconds(env, "ROSTERJOBS_WEBHOOK_TIMEOUT_SECONDS", WEBHOOK_TIMEOUT_S),
        retry_schedule_s=_retry_schedule(env, "ROSTERJOBS_WEBHOOK_RETRY_SECONDS"),
    )


def _check_webhook_url(url: str) -> None:
    """https, or http to this machine only (tests, local development); a host is needed."""
    scheme, separator, _ = url.partition("://")
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # a port that is not a number: ValueError
    except ValueError:
        host = None
    if not separator or scheme.lower() not in ("http", "https") or not host:
        raise SettingsError("ROSTERJOBS_WEBHOOK_URL must be an https:// URL with a host")
    if scheme.lower() == "http" and not is_loopback(host):
        raise SettingsError(
            "ROSTERJOBS_WEBHOOK_URL must use https:// (http:// only to localhost or 127.0.0.1)"
        )


def _webhook_secret(env: Mapping[str, str], name: str, *, required: bool) -> str | None:
    raw = env.get(name) or None
    if raw is None:
        if required:
            raise SettingsError(f"{name} must be set when ROSTERJOBS_WEBHOOK_URL is")
        return None
    try:
        secret_key(raw)
    except SecretRefused as err:
        raise SettingsError(
            f"{name} must be whsec_ followed by the base64 of 24 to 64 random bytes"
        ) from err
    return raw.strip()


def _retry_schedule(env: Mapping[str, str], name: str) -> tuple[float, ...]:
    raw = env.get(name)
    if not raw:
        return RETRY_SCHEDULE_S
    try:
        schedule = tuple(float(part) for part in raw.split(","))
    except ValueError as err:
        raise SettingsError(f"{name} must be seconds separated by commas, not {raw!r}") from err
    if not all(0 <= step < float("inf") for step in schedule):
        raise SettingsError(f"{name} must be zero or more seconds each, not {raw!r}")
    return schedule
