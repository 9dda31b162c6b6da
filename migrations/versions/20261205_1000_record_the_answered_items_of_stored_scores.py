"""record the answered items of stored scores

Each stored score's summary gets the digest of the items its assessment answered (not N/A, not
left empty), as ``app.services.scores.answered_digest`` writes it at submit: the cohort
comparison then tells which organizations answered the same items in both rounds by comparing
two stored values instead of counting the answer table. Scores without it still compare (the
comparison counts those in the database), so the downgrade leaves the key in place.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 10:00:00
"""

import hashlib
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
KEY = "answered"

score = sa.table(
    "assessment_score", sa.column("assessment_id", sa.Uuid()), sa.column("summary", sa.JSON())
)
answer = sa.table(
    "answer",
    sa.column("assessment_id", sa.Uuid()),
    sa.column("item_key", sa.String()),
    sa.column("value", sa.Float()),
    sa.column("is_na", sa.Boolean()),
)


def digest(keys: Iterable[str]) -> str:
    """``answered_digest`` as it is written today (a copy: a migration does not follow the app)."""
    return hashlib.blake2b("\n".join(sorted(keys)).encode(), digest_size=16).hexdigest()


def backfill(bind: sa.Connection) -> int:
    """The digest written into every stored summary without one; returns how many."""
    ids = list(bind.execute(sa.select(score.c.assessment_id)).scalars())
    done = 0
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        summaries = {
            a_id: summary
            for a_id, summary in bind.execute(
                sa.select(score.c.assessment_id, score.c.summary).where(
                    score.c.assessment_id.in_(batch)
                )
            )
            if isinstance(summary, dict) and KEY not in summary
        }
        if not summaries:
            continue
        answered: dict[object, list[str]] = {a_id: [] for a_id in summaries}
        for a_id, key in bind.execute(
            sa.select(answer.c.assessment_id, answer.c.item_key).where(
                answer.c.assessment_id.in_(list(summaries)),
                answer.c.is_na.is_(False),
                answer.c.value.is_not(None),
            )
        ):
            answered[a_id].append(key)
        bind.execute(
            sa.update(score)
            .where(score.c.assessment_id == sa.bindparam("a_id"))
            .values(summary=sa.bindparam("new_summary")),
            [
                {"a_id": a_id, "new_summary": {**summary, KEY: digest(answered[a_id])}}
                for a_id, summary in summaries.items()
            ],
        )
        done += len(summaries)
    return done


def upgrade() -> None:
    backfill(op.get_bind())


def downgrade() -> None:
    pass  # the key is harmless to the code before it
