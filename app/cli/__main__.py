"""`python -m app.cli`: the same as the `oca` command."""

from app.cli import main

main()
