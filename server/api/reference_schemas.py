"""Request bodies of the reference endpoints that are not a published file (those are
read by the client's own file readers, which refuse unknown fields themselves)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=256)


class QueueCategoryIn(_Strict):
    prefix: str = Field(min_length=1, max_length=1, description="一个大写字母 A-Z")
    name: str = Field(min_length=1, max_length=20, description="业务类别名称，如“综合受理”")
    active: bool = True
    position: int = Field(default=0, ge=0, le=999, description="取号机和大屏上的顺序")


class QueueCategoriesIn(_Strict):
    categories: list[QueueCategoryIn] = Field(min_length=1, max_length=26)
