"""The `splitledger` command: serve, demo, migrate, schema, create-user, release, settle, worker."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from datetime import time as time_of_day
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from api.settings import Settings, SettingsError

if TYPE_CHECKING:
    from domain.errors import DomainError


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    from api.logs import configure_logging

    configure_logging(settings.log_level)
    if workers > 1:
        uvicorn.run(
            "api.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            log_config=None,
        )
    else:
        from api.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=True, log_config=None)


async def _migrate(settings: Settings) -> None:
    from api.db import run_migrations

    await run_migrations(settings.database_url)


async def _with_database(settings: Settings, work):
    from tortoise.context import TortoiseContext

    from api.db import tortoise_config

    async with TortoiseContext() as context:
        await context.init(config=tortoise_config(settings.database_url))
        return await work()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if settings.is_production and (problems := settings.production_problems()):
        print("refusing to start in production:\n  - " + "\n  - ".join(problems), file=sys.stderr)
        return 2
    _serve(settings, args.host, args.port, args.workers)
    return 0


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_migrate(settings))
    print(f"database is at the newest migration ({_describe(settings.database_url)})")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from api.app import runtime_from
    from api.demo import DEMO_PASSWORD, demo_settings, load_demo_data

    if settings.is_production:
        print("the demo does not run in production mode", file=sys.stderr)
        return 2
    settings = demo_settings(settings)
    asyncio.run(_migrate(settings))
    logins = asyncio.run(_with_database(settings, lambda: load_demo_data(runtime_from(settings))))
    url = f"http://{args.host}:{args.port}/graphql"
    print(f"\nSplitledger demo on {_describe(settings.database_url)}")
    print(f"GraphiQL: {url}")
    print(f"Browsers may call it from: {', '.join(settings.cors_origins)} (SPLITLEDGER_CORS_ORIGINS)\n")
    print(f"Demo logins (password for all: {DEMO_PASSWORD}; every user has two-factor login on):")
    for login in logins:
        print(f"  {login.email:<32} {login.role:<20} {login.party:<22} TOTP secret {login.totp_secret}")
    print(
        "\nAdd a TOTP secret to an authenticator app (manual entry, time-based, 6 digits, 30 s), or print the "
        "current code\nwith: python -c \"import pyotp; print(pyotp.TOTP('<secret>').now())\"\n"
    )
    print(
        'Log in: mutation { login(input: {email: "admin@platform.example", password: '
        f'"{DEMO_PASSWORD}"}}) {{ ... on MfaChallenge {{ challengeToken }} }} }}'
    )
    print(
        'then:   mutation { verifyMfa(input: {challengeToken: "<challengeToken>", code: "<6 digits>"}) '
        "{ ... on AuthTokens { accessToken } } }\n",
        flush=True,
    )
    if args.no_serve:
        return 0
    _serve(settings, args.host, args.port, 1)
    return 0


def cmd_schema(_args: argparse.Namespace, _settings: Settings) -> int:
    from schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")
    return 0


def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    from domain.errors import DomainError
    from domain.services import identity, parties

    password = args.password or os.environ.get("SPLITLEDGER_BOOTSTRAP_PASSWORD") or getpass.getpass("Password: ")

    async def work() -> str:
        platform = await parties.ensure_platform_party()
        user = await identity.create_user_unchecked(args.email, password, args.role, platform.id, args.name)
        return f"created {args.role} {user.email} (user id {user.id})"

    asyncio.run(_migrate(settings))
    try:
        print(asyncio.run(_with_database(settings, work)))
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0


def cmd_release(args: argparse.Namespace, settings: Settings) -> int:
    from api.app import runtime_from
    from api.worker import release, release_summary
    from domain.errors import InvalidInput

    runtime = runtime_from(settings)
    progress = ProgressPrinter(sys.stderr)
    try:
        outcome = asyncio.run(
            _with_database(
                settings,
                lambda: release(runtime, args.as_of, chunk_parties=args.chunk_parties, progress=progress),
            )
        )
    except InvalidInput as exc:
        return _refused("release", exc)
    print(release_summary(outcome, runtime.settlement_zone))
    return 0


def cmd_settle(args: argparse.Namespace, settings: Settings) -> int:
    from api.app import runtime_from
    from api.worker import settle, settlement_summary
    from domain.errors import InvalidInput

    runtime = runtime_from(settings)
    progress = ProgressPrinter(sys.stderr)
    try:
        run = asyncio.run(
            _with_database(
                settings,
                lambda: settle(
                    runtime, args.cutoff, currency=args.currency, chunk_parties=args.chunk_parties, progress=progress
                ),
            )
        )
    except InvalidInput as exc:
        return _refused("settle", exc)
    print(settlement_summary(run, runtime.settlement_zone))
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from api.logs import configure_logging
    from api.worker import Schedule, run_worker

    configure_logging(settings.log_level)
    schedule = Schedule(
        release_every_s=args.release_every, settle_at=args.settle_at, zone=ZoneInfo(settings.settlement_time_zone)
    )
    try:
        return 0 if asyncio.run(run_worker(settings, schedule, once=args.once)) else 1
    except asyncio.CancelledError:  # a second signal abandoned the job in progress (logged)
        return 1


class ProgressPrinter:
    """Prints "parties 1,500/10,000, 2,950 parties/s" to `stream` at most every `every_s` seconds, so that a short
    run prints nothing but its summary."""

    def __init__(self, stream: TextIO, *, every_s: float = 2.0) -> None:
        self._stream = stream
        self._every_s = every_s
        self._started = self._printed = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._printed < self._every_s:
            return
        self._printed = now
        rate = done / max(now - self._started, 1e-6)
        print(f"parties {done:,}/{total:,}, {rate:,.0f} parties/s", file=self._stream, flush=True)


# The services name the GraphQL field at fault; here the option is.
_OPTIONS = {"asOf": "--as-of", "cutoff": "--cutoff", "currency": "--currency"}


def _refused(command: str, exc: DomainError) -> int:
    """Bad input: the service's message, naming the option, and status 2 (as argparse does); nothing was written."""
    message = exc.message
    option = _OPTIONS.get(exc.field or "")
    if option and exc.field and message.startswith(exc.field + " "):
        message = option + message.removeprefix(exc.field)
    elif option:
        message = f"{option}: {message}"
    print(f"splitledger {command}: error: {message}", file=sys.stderr)
    return 2


def _instant(text: str) -> datetime:
    # A missing offset is left to the service, whose message says what to add.
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 instant such as 2026-11-22T02:00:00+08:00"
        ) from None


def _time_of_day(text: str) -> time_of_day:
    if matched := re.fullmatch(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", text):
        return time_of_day(int(matched[1]), int(matched[2]))
    raise argparse.ArgumentTypeError(f"{text!r} is not a time of day such as 02:00 (HH:MM, 24-hour clock)")


def _positive(text: str) -> int:
    if re.fullmatch(r"[0-9]+", text) and int(text) > 0:
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")


def _describe(database_url: str) -> str:
    return database_url.split("@")[-1] if "@" in database_url else database_url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="splitledger", description="Marketplace split-payment back office.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="serve the GraphQL API", description="Serve the API. Run `splitledger migrate` first."
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.set_defaults(handler=cmd_serve)

    demo = commands.add_parser(
        "demo",
        help="migrate, load demo data and serve with GraphiQL",
        description="Migrate the database (a SQLite file by default), load demo data, "
        "print the demo logins and serve the API with GraphiQL.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    demo.add_argument("--no-serve", action="store_true", help="load the data and exit")
    demo.set_defaults(handler=cmd_demo)

    migrate = commands.add_parser(
        "migrate", help="apply database migrations", description="Bring the database to the newest migration."
    )
    migrate.set_defaults(handler=cmd_migrate)

    schema = commands.add_parser(
        "schema",
        help="print the GraphQL SDL",
        description="Print the schema in GraphQL SDL (as committed in schema.graphql).",
    )
    schema.set_defaults(handler=cmd_schema)

    create_user = commands.add_parser(
        "create-user",
        help="create a platform user (bootstrap the first admin)",
        description="Create a user of the platform party. The password comes from --password, "
        "SPLITLEDGER_BOOTSTRAP_PASSWORD or a prompt.",
    )
    create_user.add_argument("--email", required=True, help="login email")
    create_user.add_argument(
        "--role",
        default="platform_admin",
        choices=[
            "platform_admin",
            "platform_finance",
            "platform_operations",
            "platform_risk",
            "platform_auditor",
        ],
        help="role (default platform_admin)",
    )
    create_user.add_argument("--name", default=None, help="display name")
    create_user.add_argument("--password", default=None, help="password (at least 12 characters)")
    create_user.set_defaults(handler=cmd_create_user)

    zone = "the settlement time zone (SPLITLEDGER_SETTLEMENT_TIME_ZONE)"
    release = commands.add_parser(
        "release",
        help="release held funds that are due",
        description="Move every share whose hold has ended (or whose delivery was confirmed) from PENDING to "
        "AVAILABLE, once. Safe to run while workers run. Run `splitledger migrate` first.",
    )
    release.add_argument(
        "--as-of",
        type=_instant,
        default=None,
        metavar="INSTANT",
        help="release what is due at this instant, "
        "with its offset, e.g. 2026-11-22T02:00:00+08:00 (default now; never in the future)",
    )
    settle = commands.add_parser(
        "settle",
        help="run settlement: statements and payouts",
        description="Write each party's statement for its period (one per party, currency and period): what was "
        "released by the end of its T+N day, never past the cut-off, with its lines and a payout awaiting approval. "
        "Rerunning it, or running it on several machines at once on PostgreSQL, writes nothing twice. Run "
        "`splitledger migrate` first.",
    )
    settle.add_argument(
        "--cutoff",
        type=_instant,
        default=None,
        metavar="INSTANT",
        help="the cut-off, with its offset, "
        f"e.g. 2026-11-22T02:00:00+08:00; its local day in {zone} picks each party's period (default now; "
        "never in the future)",
    )
    settle.add_argument(
        "--currency", default=None, metavar="CODE", help="settle this currency only, e.g. CNY (default every one)"
    )
    for command in (release, settle):
        # Parties per transaction; the tests use small chunks to stop a run halfway.
        command.add_argument("--chunk-parties", type=_positive, default=None, help=argparse.SUPPRESS)
    release.set_defaults(handler=cmd_release)
    settle.set_defaults(handler=cmd_settle)

    worker = commands.add_parser(
        "worker",
        help="release every few minutes and settle once a day",
        description="Run `release` every --release-every seconds and `settle` daily at --settle-at in "
        f"{zone}, logging each job's summary. SIGTERM or SIGINT lets the job in progress finish, then exits. "
        "Several workers may run at once on PostgreSQL; run one on SQLite. Run `splitledger migrate` first.",
    )
    worker.add_argument(
        "--release-every", type=_positive, default=300, metavar="SECONDS", help="seconds between releases (default 300)"
    )
    worker.add_argument(
        "--settle-at",
        type=_time_of_day,
        default=time_of_day(2, 0),
        metavar="HH:MM",
        help=f"local time in {zone} of the daily settlement (default 02:00)",
    )
    worker.add_argument("--once", action="store_true", help="release, then settle, once, and exit (for cron)")
    worker.set_defaults(handler=cmd_worker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return args.handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
