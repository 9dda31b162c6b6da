"""The ``oca`` command. Errors are one readable message and exit code 1 or 2, never a traceback.

Each job has its module (serve and db, worker, instruments, keys, export, import, demo and rescore,
openapi, users, workspace) and the helpers they share are in ``app.cli.common``; this module
assembles them, in the order the help page lists them."""

from __future__ import annotations

from app.cli import data, imports, instruments, keys, openapi, serve, users, worker, workspace
from app.cli.common import command, new_group
from app.cli.exports import export_app

app = new_group("OCA Engine: organizational capacity assessments of civil society organizations.")
command(app)(serve.serve)
command(app)(worker.worker)
command(app)(openapi.openapi)
command(app)(data.demo)
command(app)(data.rescore)
command(app, "import")(imports.import_)
app.add_typer(instruments.instruments_app, name="instruments")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(serve.db_app, name="db")
app.add_typer(export_app, name="export")
app.add_typer(users.users_app, name="users")
app.add_typer(workspace.workspace_app, name="workspace")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
