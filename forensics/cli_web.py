"""The web app's commands: ``forensics serve`` and ``forensics users``."""

from __future__ import annotations

import typer

from forensics.cli_common import app, console, err, fail, open_store
from forensics.errors import ExitCode
from forensics.settings import Settings, get_settings

users_app = typer.Typer(help="Accounts of the web app: add them, give them API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")

#: the account `forensics demo` creates for trying the web app
DEMO_USER = "demo"


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", help="Processes (one per core); more than one needs "
                                "FORENSICS_SECRET_KEY so that they share sessions."),
) -> None:
    """Run the reviewer's web app (queue, evidence pages, decisions) on FORENSICS_DATABASE_URL.

    Log in with an account from [bold]forensics users add[/bold]. Set FORENSICS_SECRET_KEY so that
    sessions survive a restart.

    Example: [bold]forensics serve --port 8000[/bold], then open http://127.0.0.1:8000
    """
    import uvicorn

    from forensics.web.app import create_app

    settings = get_settings()
    if workers > 1 and not settings.secret_key:
        fail("--workers above 1 needs FORENSICS_SECRET_KEY (a long random string): each process would "
              "otherwise sign sessions with its own key", ExitCode.bad_args)
    open_store(settings).close()  # migrate once, before any worker starts
    err.print(f"Serving {settings.database_url} on http://{host}:{port} (Ctrl-C stops).")
    if workers > 1:
        uvicorn.run("forensics.web.app:app_from_env", factory=True, workers=workers, host=host, port=port,
                    log_level="info", server_header=False)
    else:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info", server_header=False)


def _add_user(settings: Settings, name: str, role: str, *, reset: bool = False) -> str:
    from forensics.store.people import People
    from forensics.web.auth import hash_password, new_password

    people = People(open_store(settings))
    password = new_password()
    if reset and people.user(name):
        people.set_password(name, hash_password(password))
    else:
        people.add_user(name, role, hash_password(password))
    return password


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="Login name (letters, digits, . _ -)."),
    role: str = typer.Option("reviewer", "--role", help="reviewer, investigator or admin."),
) -> None:
    """Create an account and print its one-time password (shown once, stored as an argon2 hash).

    Example: [bold]forensics users add alice --role reviewer[/bold]
    """
    import re

    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", name):
        fail("a user name is 1-64 of letters, digits, '.', '_' and '-'", ExitCode.bad_args)
    try:
        password = _add_user(get_settings(), name, role)
    except ValueError as exc:
        fail(str(exc), ExitCode.bad_args)
    console.print(f"Created {name} ({role}). One-time password: [bold]{password}[/bold]")


@users_app.command("reset")
def users_reset(name: str = typer.Argument(..., help="Login name.")) -> None:
    """Give an account a new one-time password.

    Example: [bold]forensics users reset alice[/bold]
    """
    from forensics.store.people import People
    from forensics.web.auth import hash_password, new_password

    password = new_password()
    if not People(open_store(get_settings())).set_password(name, hash_password(password)):
        fail(f"no user named {name!r}", ExitCode.not_found)
    console.print(f"New one-time password for {name}: [bold]{password}[/bold]")


@users_app.command("token")
def users_token(name: str = typer.Argument(..., help="Login name.")) -> None:
    """Print a new API token for an account (for programs: Authorization: Bearer TOKEN).

    Only its sha256 is stored: keep it now, it cannot be shown again.

    Example: [bold]forensics users token alice[/bold]
    """
    from forensics.store.people import People
    from forensics.web.auth import new_token

    token = new_token()
    try:
        People(open_store(get_settings())).add_token(name, token)
    except ValueError as exc:
        fail(str(exc), ExitCode.not_found)
    console.print(token)


@users_app.command("list")
def users_list() -> None:
    """List accounts and their roles.

    Example: [bold]forensics users list[/bold]
    """
    from forensics.store.people import People

    rows = People(open_store(get_settings())).list_users()
    for r in rows:
        console.print(f"{r['name']}\t{r['role']}\t{r['created_at']}")
    if not rows:
        console.print("No users: add one with `forensics users add NAME --role reviewer`.")


def demo_login(settings: Settings) -> None:
    """Create (or reset) the demo reviewer and say how to review the demo in the browser."""
    password = _add_user(settings, DEMO_USER, "reviewer", reset=True)
    console.print(f"Review it in the browser: [bold]forensics serve[/bold], open http://127.0.0.1:8000 "
                  f"and log in as [bold]{DEMO_USER}[/bold] with password [bold]{password}[/bold]")
