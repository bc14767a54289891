"""The `dealflow` console command: Django's management commands under one name.

`dealflow serve`, `dealflow migrate`, `dealflow demo`, `dealflow user create`,
`dealflow token create`, `dealflow describe` ...; `dealflow help` lists them all and
`dealflow COMMAND --help` explains one.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealflow.settings")
    from django.core.management import execute_from_command_line

    arguments = list(sys.argv[1:] if argv is None else argv)
    execute_from_command_line(["dealflow", *arguments])


if __name__ == "__main__":
    main()
