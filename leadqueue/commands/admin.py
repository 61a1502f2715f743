"""``leadqueue admin``: set up the shared database and its people."""

from __future__ import annotations

import argparse
import sys

from ..cli import UsageError, add_db_argument, shared_url


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("admin", help="set up the shared database and its users")
    sub = parser.add_subparsers(dest="admin_command", metavar="ACTION", required=True)

    p = sub.add_parser("init", help="migrate the shared database; install roles, RLS, functions")
    add_db_argument(p, required=True, help="the shared database URL (postgresql://…)")
    p.add_argument("--role-prefix", metavar="PREFIX",
                   help="prefix of the group role names (default lq_ or $LEADQUEUE_ROLE_PREFIX)")
    p.set_defaults(func=run_init)

    p = sub.add_parser(
        "add-user", help="create or update a person (or an intake system) and their login role",
        description="Create or update a person: their login role, their user row and their "
                    "team. --role intake instead creates a login for another system that "
                    "hands in leads (a web form, a CRM connector): it is a system, not a "
                    "person, so it has no user row, email or team; it may only INSERT rows "
                    "into the intake table (id, received_at, source_system, payload) and "
                    "can read nothing. Give it --login NAME.")
    add_db_argument(p, required=True, help="the shared database URL (postgresql://…)")
    p.add_argument("--email", help="the person's email (not for --role intake)")
    p.add_argument("--name", help="the person's name (not for --role intake)")
    p.add_argument("--role", required=True, choices=["rep", "team_lead", "admin", "intake"],
                   help="rep, team_lead or admin for a person; intake for another system "
                        "that may only append to the intake table")
    p.add_argument("--team", help="team name, created if new (not for --role intake)")
    p.add_argument("--login", metavar="NAME",
                   help="login role name (default: from the email; required for --role intake)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from standard input (else one is generated)")
    p.set_defaults(func=run_add_user)

    p = sub.add_parser("set-password", help="set a person's database password")
    add_db_argument(p, required=True, help="the shared database URL (postgresql://…)")
    p.add_argument("--login", required=True, metavar="NAME")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=run_set_password)

    p = sub.add_parser("disable-user", help="stop a person logging in (history is kept)")
    add_db_argument(p, required=True, help="the shared database URL (postgresql://…)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--email")
    who.add_argument("--login", metavar="NAME")
    p.set_defaults(func=run_disable_user)


def _shared_url(args: argparse.Namespace) -> str:
    return shared_url(args.db, who="admin commands work")


def _password_from_stdin(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError("--password-stdin: standard input gave an empty password")
    return password


def _say_password(generated: str | None, password_set: bool) -> None:
    """A generated password, shown this once; or that the old one still holds."""
    if generated:
        print(f"password (shown once, pass it on privately): {generated}")
    elif not password_set:
        print("password unchanged (leadqueue admin set-password changes it)")


def run_init(args: argparse.Namespace) -> int:
    from ..shared.admin import init

    report = init(_shared_url(args), role_prefix=args.role_prefix,
                  log=lambda m: print(m, file=sys.stderr))
    if report.changed:
        print(f"shared database ready: schema {report.revision_after}, "
              f"group roles {report.prefix}rep, {report.prefix}team_lead, {report.prefix}admin "
              f"(owner {report.prefix}owner)")
    else:
        print(f"shared database already up to date (schema {report.revision_after}): "
              "nothing changed")
    return 0


def run_add_user(args: argparse.Namespace) -> int:
    from ..shared.admin import add_user, connect_hint

    url = _shared_url(args)
    if args.role == "intake":
        return _add_intake_login(args, url)
    missing = [f"--{n}" for n in ("email", "name", "team") if getattr(args, n) is None]
    if missing:
        raise UsageError(f"add-user: a person needs {', '.join(missing)}")
    result = add_user(url, email=args.email, name=args.name, role=args.role, team=args.team,
                      login=args.login, password=_password_from_stdin(args))
    verb = "created" if result.created else "updated"
    print(f"{verb} {args.role} {result.email} (login {result.login}) in team {args.team.strip()}"
          + (" (new team)" if result.team_created else ""))
    _say_password(result.password, result.password_set)
    print(connect_hint(url, result.login))
    return 0


def _add_intake_login(args: argparse.Namespace, url: str) -> int:
    from ..shared.admin import add_intake_login, intake_hint

    given = [f"--{n}" for n in ("email", "name", "team") if getattr(args, n) is not None]
    if given:
        raise UsageError(f"add-user --role intake: an intake login is a system, not a person: "
                         f"it takes no {', '.join(given)}")
    if not args.login:
        raise UsageError("add-user --role intake: give the system's login name with --login")
    result = add_intake_login(url, login=args.login, password=_password_from_stdin(args))
    print(f"{'created' if result.created else 'updated'} intake login {result.login}: it may "
          "only add rows to the intake table (id, received_at, source_system, payload)")
    _say_password(result.password, result.password_set)
    print(intake_hint(url, result.login))
    return 0


def run_set_password(args: argparse.Namespace) -> int:
    from ..shared.admin import set_password

    generated = set_password(_shared_url(args), login=args.login,
                             password=_password_from_stdin(args))
    print(f"password of {args.login} changed")
    _say_password(generated, True)
    return 0


def run_disable_user(args: argparse.Namespace) -> int:
    from ..shared.admin import disable_user

    result = disable_user(_shared_url(args), email=args.email, login=args.login)
    print(f"disabled {result.email or 'intake login'}"
          + (f": login {result.login} can no longer log in" if result.login else "")
          + "; their history is kept")
    if result.sessions_ended is None:
        print("their open sessions were not ended (this role may not signal other "
              "sessions) but see nothing any more")
    elif result.sessions_ended:
        print(f"ended {result.sessions_ended} open session(s)")
    return 0
