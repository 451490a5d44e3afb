"""Request bodies of push (docs/sync-protocol.md §5). Strict: a wrong type is refused,
not converted, and unknown fields are refused (``extra="forbid"``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.domain.text_checks import forbidden_character
from server.sync import MAX_OPS

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def _plain(value: str) -> str:
    """The op's own fields are stored in columns: PostgreSQL refuses a NUL, and no
    client writes a control character into an id, a name or a time."""
    problem = forbidden_character(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Plain = AfterValidator(_plain)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OpModel(_Strict):
    op_id: Annotated[str, Plain] = Field(min_length=1, max_length=36,
                                         description="客户端生成的 UUID，全局唯一")
    device_seq: int = Field(ge=0, le=2**63 - 1)
    entity: Annotated[str, Plain] = Field(min_length=1, max_length=32)
    entity_id: Annotated[str, Plain] = Field(min_length=1, max_length=36)
    kind: Annotated[str, Plain] = Field(min_length=1, max_length=32)
    base_version: int = Field(ge=0, le=2**31 - 1)
    payload: dict[str, Any]
    blob_refs: list[Sha256] = Field(default_factory=list, max_length=100)
    client_time: Annotated[str, Plain] = Field(max_length=40)


class PushIn(_Strict):
    ops: list[OpModel] = Field(max_length=MAX_OPS)
