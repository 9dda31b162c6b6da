"""What a workspace's own instruments cost the requests that read the catalog.

Usage:
    .venv/bin/python bench/own_instruments.py [--seconds 6] [--baseline /path/to/other/checkout]
    (needs `wrk`; SQLite in a temp dir)

Every /v1 route that takes the catalog now reads the workspace's published versions first (one
indexed query; their parsed text is cached by content hash). This serves GET /v1/instruments (the
lightest such route) and GET /v1/instruments/oca/versions/2015.2 with uvicorn (1 worker) and wrk
(1 thread), 1 and 8 clients, for: a workspace with no versions of its own, and one that owns a
published adaptation of the OCA. With ``--baseline`` the same server is also started from another
checkout (e.g. the code before this change) for the workspace without versions of its own.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _load

from app.catalog import load_catalog
from app.config import REPO_ROOT
from app.db import migrate
from app.db.session import make_engine, make_sessionmaker
from app.services import owned_instruments as owned
from app.services.keys import cli_principal, create_key

PATHS = {"list": "/v1/instruments", "one version": "/v1/instruments/oca/versions/2015.2"}


def prepare(url: str) -> dict[str, str]:
    """Two workspaces and an editor key each; the second owns a published OCA adaptation."""
    migrate.upgrade(url)
    library = load_catalog(REPO_ROOT / "instruments")
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        keys = {
            name: create_key(session, workspace=name, role="editor").secret
            for name in ("plain", "owner")
        }
        principal = cli_principal(session, "owner")
        draft = owned.derive(session, principal, library, "oca", "2015.2", "2015.2-local")
        owned.publish(session, principal, draft.instrument_id, draft.version)
    engine.dispose()
    return keys


def measure(port: int, pid: int, key: str, label: str, seconds: float, tmp: Path) -> list[str]:
    lines = []
    for name, path in PATHS.items():
        for clients in (1, 8):
            r = _load.run_wrk(
                f"{label} {name}",
                port,
                [path],
                key,
                clients=clients,
                seconds=seconds,
                cap=1_000_000,
                server_pid=pid,
                workdir=tmp,
            )
            lines.append(
                f"{label:<34} {name:<12} c={clients:<2} {r.requests / r.seconds:8.0f} req/s  "
                f"p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms  errors {r.errors}"
            )
            print(lines[-1], flush=True)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--owner", action="store_true", help="also the workspace that owns one")
    args = parser.parse_args()
    if not _load.wrk_available():
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="oca-bench-own-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    keys = prepare(url)
    print(f"python {sys.version.split()[0]}, sqlite, uvicorn 1 worker, wrk 1 thread")
    runs = [("this checkout", REPO_ROOT)]
    if args.baseline is not None:  # alternated, so a neighbour's load falls on both alike
        base = (f"baseline {args.baseline.name}", args.baseline.resolve())
        runs = [base, runs[0], base, runs[0]]
    for label, root in runs:
        env = {"PYTHONPATH": str(root), "OCA_INSTRUMENTS_DIR": str(root / "instruments")}
        with _load.uvicorn_server(url, root, tmp / "server.log", tmp, extra_env=env) as (
            proc,
            port,
            _,
        ):
            measure(port, proc.pid, keys["plain"], f"{label}, no own versions", args.seconds, tmp)
            if root == REPO_ROOT and args.owner:
                measure(port, proc.pid, keys["owner"], f"{label}, one own", args.seconds, tmp)
    subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
