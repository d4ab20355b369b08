"""Share an experiment of this clone: its git ref to the git remote, its outputs and its run-cache to the DVC remote,
the run-cache with every output its entries name, so that another clone restores those stages instead of running
them again. A sweep's worker runs it in its clone after each trial:

    python -m mnist_dvc.apps.sweep.share NAME [--git-remote origin]

`dvc exp push --run-cache` sends the run-cache's entries, but not the outputs kept in git rather than in DVC's
cache (the metrics, the training curves, the figures). Another clone cannot restore a stage whose entry names an
output it cannot fetch, and runs it again; this sends those outputs too.
"""

import argparse

from mnist_dvc.core.cli import parse_args, run_command
from mnist_dvc.core.errors import PipelineError


def share(name: str, git_remote: str = "origin") -> tuple[int, int]:
    """Push the experiment, then the run-cache entries of the stages as the workspace's dvc.lock records them, and
    their outputs; return how many entries and output objects were named."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc.stage import PipelineStage
    from dvc.stage.cache import _can_hash, _get_cache_hash, _get_stage_hash
    from dvc.stage.serialize import to_single_stage_lockfile

    try:
        with Repo() as repo:
            pushed = repo.experiments.push(git_remote, [name], force=True, push_cache=True)
            if name not in pushed.get("success", []) + pushed.get("up_to_date", []):
                raise PipelineError(f"{name}: not pushed to {git_remote}")
            entries = [
                (_get_stage_hash(stage), _get_cache_hash(to_single_stage_lockfile(stage)))
                for stage in repo.index.stages
                if isinstance(stage, PipelineStage) and _can_hash(stage)
            ]
            objects = 0
            for objs in repo.stage_cache.get_used_objs(entries).values():
                result = repo.cloud.push(objs)
                if result.failed:
                    raise PipelineError(f"{len(result.failed)} output(s) of the run-cache could not be pushed")
                objects += len(objs)
            repo.stage_cache.push(None)
    except DvcException as error:
        raise PipelineError(str(error).splitlines()[0]) from None
    return len(entries), objects


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="the experiment")
    parser.add_argument("--git-remote", default="origin", help="where its ref goes (default: %(default)s)")


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0], with_params=False, add_arguments=_add_arguments)
    entries, objects = share(args.name, args.git_remote)
    print(
        f"share: {args.name} pushed; {entries} run-cache entries and the {objects} outputs they name are on the remote"
    )


if __name__ == "__main__":
    run_command("share", main)
