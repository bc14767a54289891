"""`dealflow serve`: serve the web app with gunicorn, on a port checked to be free first."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def default_host() -> str:
    # Not HOST: some shells set it to the machine's name, which would serve on the network.
    return os.environ.get("DEALFLOW_HOST") or DEFAULT_HOST


def default_port() -> str:
    return os.environ.get("PORT") or str(DEFAULT_PORT)


def port_number(text: str) -> int:
    """argparse type of a TCP port: a whole number from 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected a port number from 1 to 65535, got {text!r} (from --port or PORT)"
        )
    return port


def add_address_arguments(parser) -> None:
    """--host and --port, shared by `serve` and `bootstrap` so both name the same address."""
    parser.add_argument(
        "--host",
        default=default_host(),
        help="address to listen on; 0.0.0.0 serves the whole network "
        "(default: %(default)s, from DEALFLOW_HOST when set)",
    )
    parser.add_argument(
        "--port",
        type=port_number,
        default=default_port(),
        help="TCP port to listen on (default: %(default)s, from PORT when set)",
    )


def site_url(host: str, port: int, path: str = "/") -> str:
    """The URL a browser on this machine opens for `host` and `port`."""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    return f"http://{host}:{port}{path}"


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to the address, or a CommandError saying why it cannot be."""
    try:
        family, kind, protocol, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise CommandError(f"cannot listen on {host!r}: {error.strerror}") from None
    listener = socket.socket(family, kind, protocol)
    # As gunicorn does: a port left in TIME_WAIT by the last run is free, a listening one is not.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            other = port + 1 if port < 65535 else port - 1
            raise CommandError(
                f"port {port} on {host} is already in use; choose another with "
                f"--port {other} or PORT={other}"
            ) from None
        raise CommandError(f"cannot listen on port {port} on {host}: {error.strerror}") from None
    return listener


class Command(BaseCommand):
    help = "Serve dealflow over HTTP with gunicorn (--reload when DEALFLOW_DEBUG is on)."

    def add_arguments(self, parser):
        add_address_arguments(parser)
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="gunicorn worker processes (default: %(default)s)",
        )

    def handle(self, *args, **options):
        host, port = options["host"], options["port"]
        # Bind here, before saying anything, so that a busy port fails at once; gunicorn
        # takes over this very socket, so nothing can grab the port in between.
        listener = listen(host, port)
        os.set_inheritable(listener.fileno(), True)
        self.stdout.write(f"dealflow serving on {site_url(host, port)} (Ctrl-C stops)")
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "dealflow.wsgi",
            "--bind",
            f"fd://{listener.fileno()}",
            "--workers",
            str(options["workers"]),
            "--access-logfile",
            "-",
        ]
        if settings.DEBUG:
            command.append("--reload")
        sys.stdout.flush()
        os.execv(sys.executable, command)
