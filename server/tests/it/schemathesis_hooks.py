"""Hooks for the schemathesis run in schemathesis.rs.

Every request is sent as the administrator (a fresh login whenever the run itself ended the
session, e.g. by calling /api/user/logout). Requests that would lock the run out — editing or
deleting the administrator's own account — are pointed at an account that does not exist
instead, so those operations are still exercised. Every other request that names a file or
folder names one the test made (in turn, the same way every run), so operations get past 404
and their success responses are checked too.
"""

import itertools
import os

import requests
import schemathesis

BASE = os.environ["NOOK_URL"]
ADMIN = os.environ["NOOK_ADMIN"]
PASSWORD = os.environ["NOOK_ADMIN_PASSWORD"]
ADMIN_ID = int(os.environ["NOOK_ADMIN_ID"])
NOBODY_ID = 2_000_000_000

_token = None
_turn = itertools.count()

# What the test made (see seed() in schemathesis.rs).
PATHS = ["/docs/a.txt", "/docs", "/docs/deep/b.bin", "/top.txt", "/docs/deep"]
NAMES = {"file_name": "a.txt", "folder_name": "deep"}
PATH_KEYS = ("path", "file_path", "from")

# tus PATCH bodies are raw bytes, like application/octet-stream.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")


def _login():
    global _token
    r = requests.post(f"{BASE}/api/user/login", json={"username": ADMIN, "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    _token = r.json()["token"]


def _is_admin_id(value):
    # Wider than the server's parsing (which takes an integer or a string of one): anything
    # that might name the administrator is rewritten.
    try:
        return int(str(value).strip()) == ADMIN_ID
    except (TypeError, ValueError):
        return False


def _protect_admin(case):
    body = case.body
    if not isinstance(body, dict):
        return
    if case.operation.path == "/api/user/edit":
        if _is_admin_id(body.get("id")) or (body.get("id") is None and body.get("username") == ADMIN):
            case.body = {**body, "id": NOBODY_ID}
    elif case.operation.path == "/api/user/delete" and body.get("username") == ADMIN:
        case.body = {**body, "username": "nobody-here"}


def _real_paths(case):
    turn = next(_turn)
    if turn % 2:
        return
    path = PATHS[(turn // 2) % len(PATHS)]
    for params in (case.query,):
        if isinstance(params, dict):
            for key in PATH_KEYS:
                if key in params:
                    params[key] = path
    body = case.body
    if isinstance(body, dict):
        for key in PATH_KEYS:
            if key in body:
                body[key] = path
        if "paths" in body:
            body["paths"] = [path]
        named = [key for key in NAMES if key in body]
        if named:
            # new_file, create_folder, rename_file, rename_folder: a name inside /docs.
            body["path"] = "/docs"
            for key in named:
                body[key] = NAMES[key]


@schemathesis.hook
def before_call(context, case, **kwargs):
    if _token is None:
        _login()
    _real_paths(case)
    _protect_admin(case)
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {_token}"}
    case.headers.pop("X-API-KEY", None)


@schemathesis.hook
def after_call(context, case, response):
    # The run's own session ended (logout): sign in again for the next request.
    if response.status_code == 401 or (case.operation.path == "/api/user/logout" and response.status_code == 200):
        _login()
