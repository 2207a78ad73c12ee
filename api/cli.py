"""The `splitledger` command: serve, demo, migrate, schema, create-user."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence

from api.settings import Settings, SettingsError


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
