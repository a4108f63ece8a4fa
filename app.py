"""City Vitals entry point: ``python app.py`` runs everything; ``gunicorn app:server`` serves the dashboard."""

import sys

from wiring.cli import main
from wiring.web import web_server


def __getattr__(name: str):
    """Build the WSGI ``server`` only when gunicorn asks for it (PEP 562)."""
    if name == "server":
        return web_server()
    raise AttributeError(name)


if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
