"""Devices, login, refresh and the caller's own claims (docs/sync-protocol.md §2–§3)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from server import accounts
from server.accounts import utc_now
from server.api.deps import current_claims, device_token, transact
from server.api.schemas import LoginIn, RefreshIn, RegisterIn
from server.tokens import AccessClaims

router = APIRouter(prefix="/v1")


@router.post("/devices/register", status_code=201)
def register(request: Request, body: RegisterIn) -> dict[str, Any]:
    done = transact(request, lambda s: accounts.register_device(
        s, body.username, body.password, body.name, utc_now()))
    return {"device_id": done.device_id, "site": done.site_code, "site_name": done.site_name,
            "terminal": done.terminal, "device_token": done.device_token}


@router.post("/auth/login")
def login(request: Request, body: LoginIn,
          device: Annotated[str, Depends(device_token)]) -> dict[str, Any]:
    return transact(request, lambda s: accounts.login(s, device, body.username, body.password,
                                                      utc_now()))


@router.post("/auth/refresh")
def refresh(request: Request, body: RefreshIn,
            device: Annotated[str, Depends(device_token)]) -> dict[str, Any]:
    return transact(request, lambda s: accounts.refresh(s, device, body.refresh_token,
                                                        utc_now()))


@router.get("/me")
def me(who: Annotated[AccessClaims, Depends(current_claims)]) -> dict[str, Any]:
    return {"user_id": who.user_id, "role": who.role, "site": who.site,
            "device_id": who.device_id}
