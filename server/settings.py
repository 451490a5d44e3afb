"""Where a server keeps its data, and which database it uses.

A server home (``--home``, ``YICHUANG_SERVER_HOME``, or the platform's data directory)
holds the SQLite database of a single-machine county (``server.db``) and the blobs. A
real deployment passes ``--database-url postgresql+psycopg://…``: several server processes
then share that database and keep no state of their own. Their blobs then go to one
S3-compatible bucket (``blob_url``, from ``YICHUANG_SERVER_BLOB_URL``; see
server/blobs_s3.py), or to a ``blobs/`` folder every process mounts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from app.errors import UserError

DEFAULT_PORT = 8750
BLOB_URL_ENV = "YICHUANG_SERVER_BLOB_URL"


def blob_url_from_env() -> str:
    """The blob store's URL when none is given: "" (the home's ``blobs/`` folder) unless
    YICHUANG_SERVER_BLOB_URL names a bucket (``s3://bucket/prefix?endpoint=…``)."""
    return os.environ.get(BLOB_URL_ENV, "")


class ServerSettingsError(UserError, ValueError):
    """A bad home or database URL (message in Chinese)."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    home: Path
    database_url: str = ""          # "" = the SQLite file in home
    # "" = the filesystem under home/blobs; "s3://bucket/prefix?endpoint=…" = a bucket
    blob_url: str = field(default_factory=blob_url_from_env)

    @property
    def url(self) -> URL:
        if not self.database_url:
            return URL.create("sqlite", database=str(self.home / "server.db"))
        try:
            url = make_url(self.database_url)
        except ArgumentError:
            raise ServerSettingsError(f"数据库地址“{self.database_url}”无法识别，应如 "
                                      "postgresql+psycopg://用户@主机/库名") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ServerSettingsError(f"不支持的数据库“{url.get_backend_name()}”：请用 SQLite "
                                      "或 PostgreSQL。")
        return url

    @property
    def blobs(self) -> Path:
        return self.home / "blobs"


def checked_home(home: Path) -> Path:
    """``home`` if it can be the server's folder: absent (``init`` makes it) or a folder.
    A file there (``--home`` naming server.db itself, say) is refused in one line."""
    if home.exists() and not home.is_dir():
        raise ServerSettingsError(f"数据目录 {home} 不是文件夹（--home 应指向服务器的数据目录，"
                                  "而不是其中的文件）。")
    return home


def server_home(given: Path | None = None) -> Path:
    if given is not None:
        return given
    env = os.environ.get("YICHUANG_SERVER_HOME")
    return Path(env) if env else Path(platformdirs.user_data_dir("yichuang-server", False))
