"""`slmops sweep space.yaml`: Optuna searches params.yaml values; each trial is a DVC experiment.

Trials run one at a time in the workspace (`dvc exp run -n <name> -S ...`), so the pruning watch can
read the train stage's intermediate validation loss as it is written, and a trial that returns to a
parameter set DVC has run restores from the run-cache.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import click
import optuna
import yaml

from slmops.errors import SlmopsError
from slmops.sweep.space import SweepSpace, default_metric, load_space
from slmops.sweep.trials import PruningWatch, overrides, read_metric, run_watched

COMPLETE, PRUNED, FAIL = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
                          optuna.trial.TrialState.FAIL)


def _one_at_a_time(root: Path, space: SweepSpace, study: optuna.Study, metric: str) -> None:
    for number in range(space.trials):
        trial = study.ask(space.distributions())
        name = f"{space.name}-{trial.number}"
        command = ["dvc", "exp", "run", "-n", name, *overrides(trial.params)]
        click.echo(f"trial {trial.number}: {trial.params}", err=True)
        watch = PruningWatch(root, space.pruning, trial, time.time()) if space.pruning else None
        params_before = (root / "params.yaml").read_bytes()
        outcome = run_watched(command, root, watch, root / ".dvc/tmp/sweep" / f"{name}.log")
        if outcome.state is COMPLETE:
            study.tell(trial, read_metric(root, metric))
            continue
        if outcome.state is PRUNED:
            # Back to where the trial started; the interrupted `kedro run` restored the stage's outputs.
            (root / "params.yaml").write_bytes(params_before)
            subprocess.run(["dvc", "checkout", "-q"], cwd=root, check=False)
        else:
            click.echo(outcome.log[-2000:], err=True)
        study.tell(trial, state=outcome.state)
        if number == 0 and outcome.state is FAIL:
            raise SlmopsError(f"trial 0 failed ({' '.join(command[:5])} ...): see its output above")


def trials_table(study: optuna.Study, space: SweepSpace, metric: str) -> str:
    keys = list(space.params)
    header = ["experiment", "state", metric, *keys]
    rows = [[f"{space.name}-{t.number}", t.state.name.lower(), "" if t.value is None else f"{t.value:.4f}",
             *(str(t.params.get(k, "")) for k in keys)] for t in study.trials]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows])


@click.command()
@click.argument("space_file", type=click.Path(path_type=Path))
def sweep(space_file: Path) -> None:
    """Search params.yaml values with Optuna; every trial is a DVC experiment (`dvc exp show`)."""
    root = Path.cwd()
    try:
        space = load_space(space_file)
        space.name = f"{space.name}-{time.strftime('%m%d-%H%M%S')}"  # experiment names must be unique
        metric = space.objective.metric or default_metric(yaml.safe_load((root / "params.yaml").read_text()))
        # Prune only where a trial reports intermediate values: a median of earlier trials at the same step.
        study = optuna.create_study(direction=space.objective.direction, sampler=space.sampler(),
                                    pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
        _one_at_a_time(root, space, study, metric)
    except SlmopsError as error:
        click.secho(f"error: {error}", fg="red", err=True)
        raise SystemExit(2) from None
    click.echo(trials_table(study, space, metric))
    complete = [t for t in study.trials if t.state is COMPLETE]
    if not complete:
        raise SystemExit("no trial completed")
    best = study.best_trial
    click.echo(f"\nbest: {space.name}-{best.number}  {metric} = {best.value:.4f}  {best.params}")
    click.echo(f"apply it: dvc exp apply {space.name}-{best.number}   (all trials: dvc exp show)")
