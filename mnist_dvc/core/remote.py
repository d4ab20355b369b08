"""Where an output missing from the workspace can come from: the DVC remote, where it can be reached, or a run.

The default remote of a clone is a folder beside the work tree (.dvc/config), which exists only where someone
pushed to it: advising `dvc pull` elsewhere only leads to DVC's "failed to pull data from the cloud".
"""

import os

REPRO = "./tasks.sh repro"


def unreachable_remote() -> str | None:
    """Why `dvc pull` cannot work here: no default remote, or a folder remote that does not exist; None where it
    may. A remote on another machine (s3://, ssh://) is not contacted just to word a piece of advice."""
    from dvc.config import Config, ConfigError

    try:
        config = Config.from_cwd(validate=False)
    except (ConfigError, OSError) as error:
        return f"the DVC config cannot be read ({error})"
    name = config.get("core", {}).get("remote")
    if not name:
        return "no default DVC remote is set (dvc remote list)"
    url = str(config.get("remote", {}).get(name, {}).get("url", ""))
    if "://" in url or os.path.isdir(url):
        return None
    return f"the DVC remote '{name}' is the folder {os.path.relpath(url or '.')}, which does not exist here"


def how_to_get() -> str:
    """The advice for a missing output of the pipeline: run it, or pull it where the remote is there."""
    reason = unreachable_remote()
    if reason is None:
        return f"run the pipeline first ({REPRO}), or get it from the DVC remote (dvc pull)"
    return f"run the pipeline first ({REPRO}); dvc pull cannot get it: {reason}"
