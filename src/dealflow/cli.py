"""The `dealflow` console command: dealflow's own commands, and Django's under `dealflow django`.

`dealflow`, `dealflow help` and `dealflow --help` list dealflow's commands with one line
each; `dealflow COMMAND --help` explains one; `dealflow django help` lists Django's.
"""

from __future__ import annotations

import difflib
import os
import sys

# Django's commands an operator of dealflow needs; the rest are listed by `dealflow django help`.
OPERATOR_COMMANDS = ("migrate", "changepassword")
HELP_FLAGS = ("help", "-h", "--help")
USAGE_ERROR = 2  # what argparse and most Unix tools exit with for a bad command line


def main(argv: list[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    commands = _setup()
    if not arguments or arguments == ["help"] or arguments[0] in ("-h", "--help"):
        sys.stdout.write(main_help(commands))
        return
    if arguments[0] == "--version":
        sys.stdout.write(f"dealflow {_version()} (Django {_django_version()})\n")
        return
    if arguments[0] == "django":
        _django(["dealflow django", *arguments[1:]], commands)
        return
    if arguments[0] == "help":
        # `dealflow help COMMAND` is `dealflow COMMAND --help`.
        _django(["dealflow", arguments[1], "--help"], commands)
        return
    # Django's other commands still run without the `django` word; they are just not listed.
    _django(["dealflow", *arguments], commands)


def _setup() -> dict[str, str]:
    """Configure Django; return every command's name and the app it comes from."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealflow.settings")
    import django
    from django.core.management import get_commands

    django.setup()
    return dict(get_commands())


def own_commands(commands: dict[str, str]) -> list[str]:
    """dealflow's commands plus the few Django ones an operator needs, sorted."""
    return sorted(
        name
        for name, app in commands.items()
        if app.startswith("dealflow.") or name in OPERATOR_COMMANDS
    )


def summary(help_text: str) -> str:
    """The first sentence of a command's help, on one line."""
    text = " ".join(help_text.split())
    sentence_end = text.find(". ")
    return text if sentence_end < 0 else text[: sentence_end + 1]


def main_help(commands: dict[str, str]) -> str:
    from django.core.management import load_command_class

    names = own_commands(commands)
    width = max(len(name) for name in names)
    lines = [
        "usage: dealflow COMMAND [OPTIONS]",
        "",
        "dealflow's commands (`dealflow COMMAND --help` explains one and its options):",
        "",
    ]
    for name in names:
        command = load_command_class(commands[name], name)
        lines.append(f"  {name:<{width}}  {summary(str(command.help))}")
    lines += [
        "",
        "Django's other commands run as `dealflow django COMMAND`; `dealflow django help` "
        "lists them.",
        "",
    ]
    return "\n".join(lines)


def _require_known(name: str, commands: dict[str, str], prog: str) -> None:
    if name in commands:
        return
    message = f"{prog}: unknown command {name!r}"
    close = difflib.get_close_matches(name, commands, n=1)
    if close:
        message += f"; did you mean {close[0]!r}?"
    sys.stderr.write(f"{message}\nRun `{prog} help` for the list of commands.\n")
    sys.exit(USAGE_ERROR)


def _django(argv: list[str], commands: dict[str, str]) -> None:
    """Run a command line through Django, refusing an unknown command name first."""
    from django.core.management import execute_from_command_line

    if len(argv) > 1 and argv[1] not in HELP_FLAGS and not argv[1].startswith("-"):
        _require_known(argv[1], commands, argv[0])
    execute_from_command_line(argv)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dealflow")
    except PackageNotFoundError:
        return "unknown"


def _django_version() -> str:
    import django

    return django.get_version()


if __name__ == "__main__":
    main()
