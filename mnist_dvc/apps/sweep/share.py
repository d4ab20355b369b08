"""Send the run-cache of the experiment in the workspace to the DVC remote: the entries of its stages and every
output they name, so that another clone restores those stages from the remote instead of running them again.

`dvc push --run-cache` sends the entries, but not the outputs kept in git rather than in DVC's cache (the
metrics, the training curves, the figures). Another clone cannot restore a stage whose entry names an output it
cannot fetch, and runs it again. A sweep's worker runs this in its clone after each trial:

    python -m mnist_dvc.apps.sweep.share [--remote NAME]
"""

import argparse

from mnist_dvc.core.cli import parse_args, run_command
from mnist_dvc.core.errors import PipelineError


def share(remote: str | None = None) -> tuple[int, int]:
    """Push the run-cache entries of the stages as dvc.lock records them, and their outputs; return how many
    entries and output objects were named."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc.stage import PipelineStage
    from dvc.stage.cache import _can_hash, _get_cache_hash, _get_stage_hash
    from dvc.stage.serialize import to_single_stage_lockfile

    try:
        with Repo() as repo:
            entries = [
                (_get_stage_hash(stage), _get_cache_hash(to_single_stage_lockfile(stage)))
                for stage in repo.index.stages
                if isinstance(stage, PipelineStage) and _can_hash(stage)
            ]
            objects = 0
            for objs in repo.stage_cache.get_used_objs(entries).values():
                result = repo.cloud.push(objs, remote=remote)
                if result.failed:
                    raise PipelineError(f"{len(result.failed)} output(s) of the run-cache could not be pushed")
                objects += len(objs)
            repo.stage_cache.push(remote)
    except DvcException as error:
        raise PipelineError(str(error).splitlines()[0]) from None
    return len(entries), objects


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--remote", metavar="NAME", help="the DVC remote (default: the default remote)")


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0], with_params=False, add_arguments=_add_arguments)
    entries, objects = share(args.remote)
    print(f"share: {entries} run-cache entries and {objects} outputs they name are on the remote")


if __name__ == "__main__":
    run_command("share", main)
