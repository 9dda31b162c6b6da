"""The `oca` command end to end: demo data, rescore, import from a folder, exports, errors."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from app.catalog import Catalog
from app.cli import app as cli_app
from app.db.models import (
    ApiKey,
    Assessment,
    AssessmentScore,
    Cohort,
    CohortMember,
    Evidence,
    Organization,
    Rater,
    VerifiedAnswer,
    Workspace,
)
from app.db.session import make_engine
from app.excel import Prefill, build_template


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    """A database of its own for each test (the demo workspace name is fixed)."""
    return {"OCA_DATA_DIR": str(tmp_path / "data")}


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, list(args), env=env)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_demo_is_idempotent_and_shaped_like_the_seed(env: dict[str, str], tmp_path: Path) -> None:
    code, first = run(env, "demo")
    assert code == 0
    assert "oca_" in first
    link = re.search(r"http://127\.0\.0\.1:8000/links/(\S+)", first)
    assert link, "the demo prints a link for the demo admin to choose a password"
    code, second = run(env, "demo")
    assert code == 0 and "0 assessment(s) created" in second
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'oca.db'}")
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(Workspace)) == 1
        sizes = c.execute(
            select(Cohort.name, func.count())
            .join(CohortMember, CohortMember.cohort_id == Cohort.id)
            .group_by(Cohort.name)
            .order_by(Cohort.name)
        ).all()
        assert [n for _, n in sizes] == [10, 14]
        statuses = dict(
            c.execute(select(Assessment.status, func.count()).group_by(Assessment.status)).all()
        )
        assert statuses["draft"] == 1  # the one incomplete draft
        instruments = set(c.scalars(select(Assessment.instrument_id).distinct()))
        assert instruments == {"oca", "opi", "nupas", "csa-sustainability", "cla"}
        # the sustainability self-assessment rates each learning community, not its members
        rated = c.execute(
            select(Organization.name, Assessment.instrument_version, Assessment.round)
            .join(Assessment, Assessment.organization_id == Organization.id)
            .where(Assessment.instrument_id == "csa-sustainability")
            .order_by(Organization.name, Assessment.round)
        ).all()
        assert [tuple(r) for r in rated] == [
            (f"Comunidad de aprendizaje, grupo {g}", "2020.2", r)
            for g in (1, 2)
            for r in ("baseline", "endline")
        ]
        overall = dict(
            c.execute(
                select(Assessment.organization_id, AssessmentScore.overall)
                .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
                .where(Assessment.instrument_id == "oca", Assessment.round == "baseline")
            ).all()
        )
        endline = dict(
            c.execute(
                select(Assessment.organization_id, AssessmentScore.overall)
                .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
                .where(Assessment.instrument_id == "oca", Assessment.round == "endline")
            ).all()
        )
        # two endlines were facilitated: eight raters each, six items verified, three links
        raters = c.execute(
            select(Rater.assessment_id, func.count()).group_by(Rater.assessment_id)
        ).all()
        assert sorted(n for _, n in raters) == [8, 8]
        verified = c.scalar(select(func.count()).select_from(VerifiedAnswer))
        links = c.execute(select(Evidence.status, func.count()).group_by(Evidence.status)).all()
        assert verified == 12 and dict(links) == {"verified": 4, "self_reported": 2}
    engine.dispose()
    up = sum(endline[o] > overall[o] for o in endline)
    down = sum(endline[o] < overall[o] for o in endline)
    assert up > len(endline) / 2 and down >= 1  # most improve, some decline


def test_import_folder_and_export(env: dict[str, str], tmp_path: Path, catalog: Catalog) -> None:
    folder = tmp_path / "workshop"
    folder.mkdir()
    f = catalog.latest("csa-sustainability")
    assert f is not None
    for n, value in enumerate([1.0, 4.0]):
        pre = Prefill(
            f"Org {n}",
            f"x-{n}",
            "baseline",
            date(2024, 3, 3),
            None,
            dict.fromkeys(f.instrument.item_keys, value),
            {},
        )
        (folder / f"org{n}.xlsx").write_bytes(
            build_template(f.instrument, f.content_hash, "es", pre)
        )
    (folder / "notes.txt").write_text("not a workbook")
    (folder / "broken.xlsx").write_bytes(b"not really")
    code, output = run(env, "import", str(folder), "--workspace", "w", "--create-organizations")
    assert code == 1  # one workbook was rejected
    assert "2 created" in output and "1 rejected" in output
    code, output = run(env, "import", str(folder / "org0.xlsx"), "--workspace", "w")
    assert code == 0 and "1 unchanged" in output

    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'oca.db'}")
    with engine.connect() as c:
        aid = c.scalar(select(Assessment.id).limit(1))
    engine.dispose()
    target = tmp_path / "a.xlsx"
    code, output = run(env, "export", "assessment", str(aid), "--workspace", "w", "-o", str(target))
    assert code == 0, output
    assert openpyxl.load_workbook(target).sheetnames
    code, output = run(env, "export", "assessment", "not-an-id", "--workspace", "w")
    assert code != 0 and "ASSESSMENT_ID" in output
    code, output = run(env, "export", "assessment", str(aid), "--workspace", "nope")
    assert code == 1 and "no workspace named 'nope'" in output


def test_template_and_keys(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    code, _ = run(env, "export", "template", "opi", "--lang", "es", "-o", str(target))
    assert code == 0 and target.stat().st_size > 1000
    assert run(env, "export", "template", "nope")[0] == 1
    code, output = run(env, "keys", "create", "--workspace", "w2", "--role", "viewer")
    assert code == 0
    secret = next(line for line in output.splitlines() if line.startswith("oca_"))
    code, listing = run(env, "keys", "list", "--workspace", "w2")
    assert "viewer" in listing and secret not in listing
    prefix = secret.split("_")[1]
    assert run(env, "keys", "revoke", prefix)[0] == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'oca.db'}")
    with engine.connect() as c:
        revoked = c.scalar(select(ApiKey.revoked_at).where(ApiKey.prefix == prefix))
    engine.dispose()
    assert revoked is not None
    assert run(env, "keys", "revoke", "no-such-key")[0] == 1
    code, output = run(env, "keys", "create", "--workspace", "w2", "--role", "boss")
    assert code == 2 and "'boss' is not one of 'admin', 'editor', 'viewer'" in output


def test_serve_without_migrating_names_the_missing_migration(tmp_path: Path) -> None:
    """Found by the image test: a traceback ('no such table') instead of what to run."""
    env = {"OCA_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(cli_app, ["serve", "--no-migrate", "--port", "1"], env=env)
    assert result.exit_code == 1
    assert "run `oca db upgrade` first" in result.output
    assert "Traceback" not in result.output


def test_db_upgrade_refuses_settings_that_cannot_work(tmp_path: Path) -> None:
    env = {"OCA_DATA_DIR": str(tmp_path), "OCA_DATABASE_URL": "mysql://root@localhost/x"}
    result = CliRunner().invoke(cli_app, ["db", "upgrade"], env=env)
    assert result.exit_code == 1
    assert "'mysql' databases are not supported" in result.output


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"OCA_READ_THREADS": "four"}, ["OCA_READ_THREADS: Input should be a valid integer"]),
        ({"OCA_LOG_FORMAT": "xml"}, ["OCA_LOG_FORMAT: Input should be 'text' or 'json'"]),
        (
            {"OCA_RATE_LIMIT_PER_KEY": "-1", "OCA_REPORT_PAPER": "a3"},
            ["OCA_RATE_LIMIT_PER_KEY: Input should be greater", "OCA_REPORT_PAPER: Input should"],
        ),
    ],
)
def test_a_value_of_the_wrong_kind_stops_every_command_with_one_line_each(
    tmp_path: Path, variables: dict[str, str], expected: list[str]
) -> None:
    """Found by following docs/operations.md: OCA_READ_THREADS=four gave a pydantic traceback."""
    env = {"OCA_DATA_DIR": str(tmp_path / "data"), **variables}
    for args in (["serve", "--port", "1"], ["db", "upgrade"], ["keys", "list"]):
        result = CliRunner().invoke(cli_app, args, env=env)
        assert isinstance(result.exception, SystemExit), result.exception  # not a traceback
        assert result.exit_code == 1
        lines = result.output.splitlines()
        assert lines[0] == "error: the settings cannot work:"
        assert len(lines) == 1 + len(expected)
        for line, start in zip(lines[1:], expected, strict=True):
            assert line.strip().startswith(start)
    assert not (tmp_path / "data").exists()  # nothing was created


def test_a_database_that_cannot_be_reached_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """Found by following docs/operations.md: `oca workspace import` into a PostgreSQL database
    not created yet printed SQLAlchemy's traceback; so did every command with the server down."""
    (tmp_path / "folder.db").mkdir()  # a folder where the SQLite file should be
    cases = {
        "postgresql+psycopg://postgres@127.0.0.1:1/nothing": "Connection refused",
        f"sqlite:///{tmp_path / 'folder.db'}": "unable to open database file",
    }
    for url, reason in cases.items():
        for args in (["keys", "list"], ["db", "upgrade"], ["workspace", "import", __file__]):
            result = CliRunner().invoke(cli_app, args, env={"OCA_DATABASE_URL": url})
            assert isinstance(result.exception, SystemExit), (args, result.exception)
            assert result.exit_code == 1
            error = [line for line in result.output.splitlines() if line.startswith("error:")]
            assert len(error) == 1 and error[0].startswith("error: cannot use the database: ")
            assert reason in error[0], result.output


def test_workspace_sharing_is_shown_and_changed(env: dict[str, str], tmp_path: Path) -> None:
    code, _ = run(env, "keys", "create", "--workspace", "w3", "--role", "admin")
    assert code == 0
    code, output = run(env, "workspace", "sharing", "w3")
    assert code == 0 and "does not share" in output
    code, output = run(env, "workspace", "sharing", "w3", "on")
    assert code == 0 and "'w3' shares" in output
    code, output = run(env, "workspace", "sharing", "w3", "maybe")
    assert code != 0 and "say 'on' or 'off'" in output
    code, output = run(env, "workspace", "sharing", "nope", "on")
    assert code == 1 and "no workspace named 'nope'" in output
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'oca.db'}")
    with engine.connect() as c:
        assert c.scalar(select(Workspace.shares_scores).where(Workspace.name == "w3")) is True
    engine.dispose()


@pytest.mark.parametrize(
    "tampered",
    [
        {"overall": 9.99, "payload": {"tampered": True}},
        {"rendered": '{"assessment_id":"x","computed_at":"2024-01-01T00:00:00","overall":{}}'},
        {"summary": {"overall": 9.99, "dimensions": {}}},
    ],
    ids=["the-payload", "what-reads-send", "what-comparisons-read"],
)
def test_rescore_reports_a_tampered_score(
    env: dict[str, str], tmp_path: Path, tampered: dict[str, Any]
) -> None:
    """The payload, the answer a read sends as it is, and the summary a cohort comparison
    reads are each checked against the answers (and written again with --write)."""
    assert run(env, "demo")[0] == 0
    code, output = run(env, "rescore")
    assert code == 0 and "0 differ" in output
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'oca.db'}")
    with engine.begin() as c:
        victim = c.scalar(select(AssessmentScore.assessment_id).limit(1))
        c.execute(
            update(AssessmentScore)
            .where(AssessmentScore.assessment_id == victim)
            .values(**tampered)
        )
    engine.dispose()
    code, output = run(env, "rescore")
    assert code == 3 and "1 differ" in output, output
    assert "9.99" in output or "overall" not in tampered  # the stored overall is shown
    assert run(env, "rescore", "--write")[0] == 0
    assert "0 differ" in run(env, "rescore")[1]
