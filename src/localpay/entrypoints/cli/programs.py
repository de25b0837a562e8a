"""`localpay program ...`: a city's programs and their rules, the CEL checker, and where
a draft version would apply (services/console; nothing is written)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
import typer

from localpay.domain.policy import Policy
from localpay.entrypoints.cli.app import CityOpt, fail, opened, out, print_json
from localpay.services.console.gauges import gauge
from localpay.services.console.preview import check_condition, policy_problem, preview
from localpay.services.console.reads import programs_and_merchants

programs = typer.Typer(help="A city's programs: rules, conditions, previews", no_args_is_help=True)
commands = typer.Typer()
commands.add_typer(programs, name="program")


@programs.command("show")
def show(
    ctx: typer.Context,
    city: CityOpt,
    program: Annotated[str | None, typer.Argument(help="A program id; all when left out")] = None,
) -> None:
    """The current version of each program (JSON): its rules and its budget figures."""
    with opened(ctx) as store:
        state = programs_and_merchants(store, city)
    chosen = [program] if program else sorted(state.programs)
    if program and program not in state.programs:
        fail(f"no program {program!r} in {city!r}")
    print_json(
        [
            {
                "program": p,
                "version": len(state.programs[p].versions),
                "policy": state.programs[p].versions[-1],
                "budget": gauge(state.programs[p]),
            }
            for p in chosen
        ]
    )


@programs.command("check-condition")
def check(
    expression: Annotated[str, typer.Argument(help="A CEL condition, e.g. 'hour >= 11'")],
) -> None:
    """Type-check a condition as the ledger will; exit 1 with the checker's message."""
    found = check_condition(expression)
    if not found.ok:
        fail(f"the condition is refused: {found.message}")
    out.print(f"ok ({found.engine})", highlight=False)


@programs.command("preview")
def preview_file(
    ctx: typer.Context,
    city: CityOpt,
    file: Annotated[Path, typer.Option("--file", help="A policy as JSON (define_program's)")],
) -> None:
    """Where a draft version would apply: eligible merchants by category and area."""
    try:
        policy = msgspec.json.decode(file.read_bytes(), type=Policy)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", 2)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        fail(f"{file} is not a policy: {exc}", 2)
    problem = policy_problem(policy)
    if problem is not None:
        fail(f"the policy is refused: {problem}")
    with opened(ctx) as store:
        state = programs_and_merchants(store, city)
    print_json(preview(state, policy))
