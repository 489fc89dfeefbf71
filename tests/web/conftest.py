"""The web app served for real: uvicorn on 127.0.0.1 (a free port, a thread of this process) on
a store filled by ingesting a few generated uploads, on SQLite and on PostgreSQL; Debian's
chromium driven by Playwright (it cannot download its own browser here)."""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from forensics.settings import Settings
from forensics.store import Store
from forensics.web.auth import hash_password
from tests.conftest import free_port, fresh_postgres_database, need_service
from tests.web.corpus import ingest, write_corpus

#: where Debian's chromium package puts the browser (the Makefile installs it)
CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
#: switches for a headless browser in a container: no sandbox (root), no GPU, nothing fetched
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: accounts of the served app (invented)
REVIEWER = ("rita", "reviewer-pass-1")
ADMIN = ("adam", "admin-pass-1")
#: FORENSICS_SCREENSHOTS=1 makes the tests write the README's screenshots to docs/screenshots/
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def chromium_path() -> str | None:
    for p in CHROMIUM_PATHS:
        if Path(p).exists():
            return p
    return shutil.which("chromium")


@pytest.fixture(scope="session", autouse=True)
def _browser_address_space() -> None:
    """Lift a soft address-space limit an earlier test left on this process before the browser
    starts (an in-process dramatiq worker applies FORENSICS_WORKER_MEMORY_MB to the process it
    boots in): Chromium reserves far more virtual memory than it uses and dies (SIGTRAP) under it."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright's launch arguments with Debian's chromium."""
    path = chromium_path()
    if path is None:
        need_service("chromium (apt-get install chromium; `make setup` does it)", FileNotFoundError("no chromium"))
    return {**browser_type_launch_args, "executable_path": path, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def web_blobs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("web-blobs")
    return root, write_corpus(root)


@pytest.fixture(scope="session")
def web_postgres_url() -> Iterator[str]:
    """A PostgreSQL database of the web tests' own (others truncate the shared one between tests)."""
    with fresh_postgres_database("forensics_web") as url:
        yield url


@dataclass
class Served:
    """The app under test: its URL, its store and settings."""

    url: str
    store: Store
    settings: Settings
    backend: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, web_blobs: tuple[Path, list[dict]],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app on a freshly ingested store, per module and back end."""
    import uvicorn

    from forensics.store.people import People
    from forensics.web.app import create_app

    root, events = web_blobs
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('web-db') / 'web.db'}"
    else:
        url = request.getfixturevalue("web_postgres_url")
        _empty(url)
    settings = Settings(database_url=url, blob_root=str(root), secret_key=secrets.token_hex(16))
    store = ingest(events, settings)
    people = People(store)
    people.add_user(REVIEWER[0], "reviewer", hash_password(REVIEWER[1]))
    people.add_user(ADMIN[0], "admin", hash_password(ADMIN[1]))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, store), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield Served(f"http://127.0.0.1:{port}", store, settings, request.param)
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


def _empty(url: str) -> None:
    from sqlalchemy import text

    from forensics.store.schema import metadata

    store = Store(url)
    with store.transaction() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
                          + " RESTART IDENTITY CASCADE"))
    store.close()


def login(page, served: Served, who: tuple[str, str] = REVIEWER, next_path: str = "/queue"):  # noqa: ANN001, ANN201
    """Log in through the form; returns the response of the page landed on."""
    page.goto(f"{served.url}/login?next={next_path}")
    page.fill("input[name=name]", who[0])
    page.fill("input[name=password]", who[1])
    with page.expect_navigation() as nav:
        page.click("button[type=submit]")
    return nav.value


def screenshot(page, name: str) -> None:  # noqa: ANN001
    """Save a README screenshot when FORENSICS_SCREENSHOTS=1 (SQLite run only: one set)."""
    if os.environ.get("FORENSICS_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1440, "height": 960})
        page.mouse.move(0, 0)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


@dataclass
class Api:
    """The app driven in-process (Starlette's TestClient) with one API token per role."""

    client: object
    store: Store
    settings: Settings
    backend: str
    tokens: dict[str, str]

    def headers(self, role: str = "investigator") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, web_blobs: tuple[Path, list[dict]],
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The app on a freshly ingested store, per module and back end, with a token per role."""
    from fastapi.testclient import TestClient

    from forensics.store.people import People
    from forensics.web.app import create_app
    from forensics.web.auth import new_token

    root, events = web_blobs
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api-db') / 'api.db'}"
    else:
        url = request.getfixturevalue("web_postgres_url")
        _empty(url)
    settings = Settings(database_url=url, blob_root=str(root), secret_key=secrets.token_hex(16),
                        max_file_bytes=400_000)
    store = ingest(events, settings)
    people = People(store)
    tokens = {}
    for role in ("reviewer", "investigator", "admin"):
        people.add_user(f"api-{role}", role, hash_password(secrets.token_hex(8)))
        tokens[role] = new_token()
        people.add_token(f"api-{role}", tokens[role])
    with TestClient(create_app(settings, store)) as client:
        yield Api(client, store, settings, request.param, tokens)
    store.close()
