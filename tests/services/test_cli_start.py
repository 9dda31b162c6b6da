"""What an `oca` command does before its own work: every command imports the whole CLI, so no
module may do costly work on import (an Argon2id hash took 64 MiB there for a moment, and every
command's peak memory was 140 MiB instead of 90)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from argon2.exceptions import VerificationError

from app.services import people


def test_importing_the_cli_makes_no_password_hash() -> None:
    script = textwrap.dedent(
        """
        import argon2

        def refuse(*args, **kwargs):
            raise SystemExit("a password was hashed on import")

        argon2.PasswordHasher.hash = refuse
        import app.cli
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_stand_in_hash_for_an_unknown_e_mail_is_made_once_and_verifies_nothing() -> None:
    stand_in = people._dummy_hash()
    assert stand_in.startswith("$argon2id$")
    assert people._dummy_hash() is stand_in
    with pytest.raises(VerificationError):
        people._hasher.verify(stand_in, "wrong-password-here")
