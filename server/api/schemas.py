"""Request bodies. Unknown fields are refused (``extra="forbid"``): a client that sends
what the server does not know learns it at once instead of having it ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=256)


class RegisterIn(_Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=64, description="终端名称，如“1号窗口电脑”")


class LoginIn(_Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshIn(_Strict):
    refresh_token: str = Field(min_length=1, max_length=128)
