"""The `dealflow` console command: its help, Django's commands under it, and `serve`."""

import argparse
import io
import os
import socket
import subprocess
import sys

import pytest
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError

from dealflow import cli

# Options every Django command has; Django documents them, dealflow does not.
DJANGO_BASE_OPTIONS = {
    "help",
    "version",
    "verbosity",
    "settings",
    "pythonpath",
    "traceback",
    "no_color",
    "force_color",
    "skip_checks",
}


def run_cli(capsys, *arguments):
    """Run `dealflow ARGUMENTS` in this process; returns (exit code, stdout, stderr)."""
    try:
        cli.main(list(arguments))
        code = 0
    except SystemExit as stop:
        code = stop.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_help_lists_dealflows_commands_with_one_line_each(capsys):
    code, output, _errors = run_cli(capsys, "--help")

    listed = [line.split()[0] for line in output.splitlines() if line.startswith("  ")]
    assert code == 0
    assert output.startswith("usage: dealflow COMMAND [OPTIONS]\n")
    assert listed == [
        "assign",
        "beat",
        "bootstrap",
        "changepassword",
        "demo",
        "describe",
        "duplicates",
        "export",
        "import",
        "migrate",
        "purge",
        "report",
        "score",
        "serve",
        "service-levels",
        "stalled",
        "token",
        "user",
        "worker",
    ]
    assert (
        "  serve           Serve dealflow over HTTP with gunicorn "
        "(--reload when DEALFLOW_DEBUG is on)."
    ) in output.splitlines()
    assert "  migrate         Updates database schema." in output.splitlines()
    assert "sqlflush" not in output
    assert "`dealflow django help` lists them." in output


@pytest.mark.parametrize("arguments", [(), ("help",), ("-h",)])
def test_no_command_and_help_print_the_same_list(capsys, arguments):
    _code, expected, _errors = run_cli(capsys, "--help")

    code, output, _errors = run_cli(capsys, *arguments)

    assert (code, output) == (0, expected)


def test_help_command_explains_one_command(capsys):
    code, output, _errors = run_cli(capsys, "help", "serve")

    assert code == 0
    assert output.startswith("usage: dealflow serve ")
    assert "--port PORT" in output


def test_djangos_commands_run_under_django(capsys):
    code, output, _errors = run_cli(capsys, "django", "check")

    assert code == 0
    assert output == "System check identified no issues (0 silenced).\n"


def test_django_help_lists_djangos_commands(capsys):
    code, output, _errors = run_cli(capsys, "django", "help")

    assert code == 0
    assert "Type 'dealflow django help <subcommand>' for help on a specific subcommand." in output
    assert "    sqlflush" in output.splitlines()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("sqlflsh",), "dealflow: unknown command 'sqlflsh'; did you mean 'sqlflush'?\n"),
        (("help", "nothing"), "dealflow: unknown command 'nothing'\n"),
        (("django", "nothing"), "dealflow django: unknown command 'nothing'\n"),
    ],
)
def test_an_unknown_command_is_a_usage_error(capsys, arguments, message):
    code, output, errors = run_cli(capsys, *arguments)

    assert (code, output) == (2, "")
    assert errors.startswith(message)
    assert errors.endswith("help` for the list of commands.\n")


def test_the_installed_module_exits_with_2_on_an_unknown_command(tmp_path):
    environment = {**os.environ, "DEALFLOW_VAR_DIR": str(tmp_path)}

    result = subprocess.run(
        [sys.executable, "-m", "dealflow.cli", "nothing"],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )

    assert result.returncode == 2
    assert result.stderr.startswith("dealflow: unknown command 'nothing'")


def own_options():
    """(command, action) for every argument of dealflow's own commands, subcommands included."""
    for name, app in sorted(get_commands().items()):
        if not app.startswith("dealflow."):
            continue
        parsers = [(name, load_command_class(app, name).create_parser("dealflow", name))]
        while parsers:
            label, parser = parsers.pop()
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    parsers += [(f"{label} {sub}", p) for sub, p in action.choices.items()]
                elif action.dest not in DJANGO_BASE_OPTIONS:
                    yield label, action


def test_every_option_of_dealflows_commands_has_help_stating_its_default(monkeypatch):
    monkeypatch.delenv("PORT", raising=False)
    checked = set()

    for label, action in own_options():
        option = action.option_strings[0] if action.option_strings else action.dest
        checked.add(f"{label} {option}")
        assert action.help, f"dealflow {label} {option}: no help"
        if action.default not in (None, argparse.SUPPRESS):
            assert "(default: " in action.help, f"dealflow {label} {option}: no default"

    assert {
        "serve --port",
        "serve --host",
        "serve --workers",
        "bootstrap --port",
        "demo --seed",
        "demo --if-empty",
        "user create --role",
        "user create --password-stdin",
        "token create --name",
        "token list username",
        "export --headers",
        "import --on-duplicate",
        "import --batch-size",
        "worker --concurrency",
        "worker --loglevel",
        "worker --queues",
        "beat --loglevel",
        "beat --schedule",
        "duplicates scan --object",
        "duplicates refresh-keys --object",
    } <= checked


def test_serve_port_defaults_to_port_and_then_8000(monkeypatch):
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("DEALFLOW_HOST", raising=False)
    default = load_command_class("dealflow.core", "serve").create_parser("dealflow", "serve")
    monkeypatch.setenv("PORT", "8765")
    monkeypatch.setenv("DEALFLOW_HOST", "::1")
    from_environment = load_command_class("dealflow.core", "serve").create_parser(
        "dealflow", "serve"
    )

    assert (default.parse_args([]).port, default.parse_args([]).host) == (8000, "127.0.0.1")
    assert (from_environment.parse_args([]).port, from_environment.parse_args([]).host) == (
        8765,
        "::1",
    )
    assert from_environment.parse_args(["--port", "9000"]).port == 9000


def test_serve_refuses_a_port_that_is_not_a_number(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "eighty")
    monkeypatch.setattr(os, "execv", lambda *args: pytest.fail("gunicorn was started"))

    code, output, errors = run_cli(capsys, "serve")

    assert (code, output) == (2, "")
    assert (
        "argument --port: expected a port number from 1 to 65535, got 'eighty' (from --port or PORT)"
        in errors
    )


def test_serve_on_a_busy_port_fails_at_once_without_starting_gunicorn(monkeypatch, capsys):
    monkeypatch.setattr(os, "execv", lambda *args: pytest.fail("gunicorn was started"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("PORT", str(port))
        output = io.StringIO()
        with pytest.raises(CommandError) as refused:
            call_command("serve", stdout=output)
        code, printed, errors = run_cli(capsys, "serve")

    assert str(refused.value) == (
        f"port {port} on 127.0.0.1 is already in use; choose another with "
        f"--port {port + 1} or PORT={port + 1}"
    )
    assert output.getvalue() == ""
    assert (code, printed) == (1, "")
    assert errors == f"CommandError: {refused.value}\n"


def test_serve_hands_its_bound_socket_to_gunicorn(monkeypatch):
    started = []

    def execv(path, command):
        # What gunicorn would inherit, looked at before serve's frame lets go of it.
        descriptor = int(command[command.index("--bind") + 1].removeprefix("fd://"))
        with socket.socket(fileno=os.dup(descriptor)) as handed_over:
            started.append((command, handed_over.getsockname(), os.get_inheritable(descriptor)))

    monkeypatch.setattr(os, "execv", execv)
    monkeypatch.delenv("DEALFLOW_HOST", raising=False)
    port = free_port()
    monkeypatch.setenv("PORT", str(port))
    output = io.StringIO()

    call_command("serve", "--workers", "3", stdout=output)

    [(command, address, inheritable)] = started
    assert (address, inheritable) == (("127.0.0.1", port), True)
    assert command[1:4] == ["-m", "gunicorn", "dealflow.wsgi"]
    assert command[command.index("--workers") + 1] == "3"
    assert output.getvalue() == f"dealflow serving on http://127.0.0.1:{port}/ (Ctrl-C stops)\n"
