"""Request bodies. Unknown fields are refused (``extra="forbid"``): a client that sends
what the server does not know learns it at once instead of having it ignored.

Every string is a :data:`Text`: control characters (U+0000–U+001F, U+007F–U+009F) are
refused with ``422 invalid_request``. No name, password or token needs one, and
PostgreSQL cannot store U+0000 at all (it would fail as a 500 deep in the database).
Other areas' schemas may use :data:`Text` too.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Anything but C0/C1 control characters and DEL (the pattern is in the OpenAPI spec too).
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f-\x9f]*$"
Text = Annotated[str, Field(pattern=NO_CONTROL_CHARACTERS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=256)


class RegisterIn(_Strict):
    username: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=1, max_length=256)
    name: Text = Field(min_length=1, max_length=64, description="终端名称，如“1号窗口电脑”")


class LoginIn(_Strict):
    username: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=1, max_length=256)


class RefreshIn(_Strict):
    refresh_token: Text = Field(min_length=1, max_length=128)
