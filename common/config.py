"""Settings read from the environment, with local defaults for a developer machine."""
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AMQP_URI = "pyamqp://guest:guest@127.0.0.1:5672//"


def data_dir() -> Path:
    """Where embedded SQLite files and local secrets live (git-ignored)."""
    path = Path(os.environ.get("CIVIC_DATA_DIR", ROOT / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def amqp_uri() -> str:
    return os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)


def database_url(service: str) -> str:
    """The database a service owns.

    ``<SERVICE>_DATABASE_URL`` wins; otherwise ``DATABASE_URL`` names a PostgreSQL
    server and base name, and each service gets its own database ``<base>_<service>``
    (so any service can later move to its own server); otherwise an embedded SQLite file.
    """
    explicit = os.environ.get(f"{service.upper()}_DATABASE_URL")
    if explicit:
        return sqlalchemy_url(explicit)
    base = os.environ.get("DATABASE_URL")
    if base:
        return sqlalchemy_url(derive_database_url(base, service))
    db_dir = data_dir() / "db"
    db_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db_dir / (service + '.sqlite3')}"


def sqlalchemy_url(url: str) -> str:
    """Use psycopg2 (made green under eventlet by psycogreen) for plain postgresql:// URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def derive_database_url(base: str, service: str) -> str:
    parts = urlsplit(base)
    name = parts.path.lstrip("/") or "civic"
    return urlunsplit(parts._replace(path=f"/{name}_{service}"))


def secret(name: str) -> str:
    """A secret from the environment, or one generated once for this checkout (dev only)."""
    value = os.environ.get(name)
    if value:
        return value
    path = data_dir() / "secrets" / name.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        import secrets as _secrets

        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(_secrets.token_urlsafe(48))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic: the first writer wins, others read its value
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def env_bool(name: str, default: bool) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case); unset or empty: ``default``."""
    raw = (os.environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={os.environ[name]!r}: expected 1/true/yes/on or 0/false/no/off")
