"""The server's tables (its own metadata: the client's database is another thing).
Alembic migrations in ``server/migrations`` create them; times are timezone-aware UTC."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ServerMetaRow(Base):
    """Small settings shared by every server process (the token signing key)."""
    __tablename__ = "server_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SiteRow(Base):
    """A service hall or centre: 县级政务服务中心, 乡镇便民服务中心, 村便民服务站."""
    __tablename__ = "sites"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)   # 6–12 digits, as in case numbers
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(8))                     # 县级 乡镇 村
    next_terminal: Mapped[int] = mapped_column(Integer, default=1)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))      # clerk | agent | supervisor | admin
    site_code: Mapped[str] = mapped_column(ForeignKey("sites.code"))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class DeviceRow(Base):
    """A registered client PC: its terminal number within its site, and the hash of its
    device token (the token itself is shown once, at registration)."""
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("site_code", "terminal"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site_code: Mapped[str] = mapped_column(ForeignKey("sites.code"))
    terminal: Mapped[str] = mapped_column(String(2))
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    registered_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class RefreshTokenRow(Base):
    """A refresh token (hashed). Each use replaces it; a replaced one used again means it
    was copied: its whole family is revoked."""
    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    family: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
