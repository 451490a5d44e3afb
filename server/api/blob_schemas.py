"""The blob declaration body. Only shape is checked here; the name, size and type get
their own refusals (422 bad_sha256, 413 blob_too_large, 415 unsupported_type) in
``server.blobs``, so that a client learns exactly what is wrong."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class DeclareIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=256)

    sha256: str = Field(description="文件内容的 SHA-256，64位小写十六进制")
    size: StrictInt = Field(description="字节数，1 至 200 MiB")
    type: str = Field(description="image/jpeg、image/png 或 application/pdf")
