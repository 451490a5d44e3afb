"""Two server processes on one PostgreSQL database, clients spread across both: whatever
one process did, the other knows — no state lives in a process."""

from __future__ import annotations

import requests

from server import accounts
from server.db import ServerDatabase
from tests.server.conftest import ADMIN_PASSWORD, Server

PASSWORD = "Chuangkou2026"


def test_a_device_registered_at_one_process_logs_in_and_refreshes_at_the_other(
        two_servers: tuple[Server, Server]) -> None:
    a, b = two_servers
    device = requests.post(f"{a.url}/v1/devices/register", json={
        "username": "admin", "password": ADMIN_PASSWORD, "name": "1号窗口"}, timeout=30).json()
    db = ServerDatabase(a.settings)
    try:
        with db.session() as session:
            accounts.create_user(session, "lisi", "李四", "clerk", device["site"], PASSWORD)
    finally:
        db.dispose()
    headers = {"X-Device-Token": device["device_token"]}
    login = requests.post(f"{b.url}/v1/auth/login", json={"username": "lisi",
                          "password": PASSWORD}, headers=headers, timeout=30).json()
    me = requests.get(f"{a.url}/v1/me", timeout=30,
                      headers={"Authorization": f"Bearer {login['access_token']}"})
    assert me.status_code == 200 and me.json()["device_id"] == device["device_id"]
    renewed = requests.post(f"{a.url}/v1/auth/refresh", headers=headers, timeout=30,
                            json={"refresh_token": login["refresh_token"]})
    assert renewed.status_code == 200
    replayed = requests.post(f"{b.url}/v1/auth/refresh", headers=headers, timeout=30,
                             json={"refresh_token": login["refresh_token"]})
    assert (replayed.status_code, replayed.json()["error"]) == (401, "refresh_replayed")
    # The terminal numbers come from the database: the other process gives the next one.
    again = requests.post(f"{b.url}/v1/devices/register", json={
        "username": "admin", "password": ADMIN_PASSWORD, "name": "2号窗口"}, timeout=30)
    assert again.json()["terminal"] == "02"


def test_the_lock_out_counts_wrong_passwords_at_both_processes(
        two_servers: tuple[Server, Server]) -> None:
    a, b = two_servers
    for i in range(5):
        wrong = requests.post(f"{(a, b)[i % 2].url}/v1/devices/register", json={
            "username": "admin", "password": "Wrong2026x", "name": "x"}, timeout=30)
        assert wrong.status_code == 401
    locked = requests.post(f"{a.url}/v1/devices/register", json={
        "username": "admin", "password": ADMIN_PASSWORD, "name": "x"}, timeout=30)
    assert (locked.status_code, locked.json()["error"]) == (429, "locked")
