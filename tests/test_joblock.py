"""Two runs of the same job never overlap; different jobs do not block each other."""

from __future__ import annotations

from flask import Flask

from portal import joblock


def test_a_second_run_of_a_held_job_stops_and_writes_nothing(app: Flask) -> None:
    runner = app.test_cli_runner()
    with joblock.job_lock(app, "notify send"):
        held = runner.invoke(args=["notify", "send"])
        other = runner.invoke(args=["ledger", "check"])
    assert held.exit_code == 1
    assert "already running" in held.output
    assert other.exit_code == 0, other.output
    again = runner.invoke(args=["notify", "send"])
    assert again.exit_code == 0, again.output


def test_the_lock_is_released_after_a_failing_run(app: Flask) -> None:
    runner = app.test_cli_runner()
    failed = runner.invoke(
        args=["billing", "generate", "--community", "NOPE", "--period", "2026-11"]
    )
    assert failed.exit_code != 0
    with joblock.job_lock(app, "billing generate"):
        pass
