"""The offline page template of `dvc plots show`: committed, rebuilt from package-lock.json by this tool.

DVC's own page loads Vega, Vega-Lite and Vega-Embed from a CDN, so offline its charts stay blank. This
project's template has the three scripts inlined, taken from the npm packages that package-lock.json pins,
and .dvc/config names it as plots.html_template: every `dvc plots show` and `dvc plots diff` writes a
self-contained page. The template is committed, so that this works in every clone with no npm; npm is
needed only to rebuild it, after package-lock.json (or the page around the scripts) changed.

    python -m tools.plots_page build    # npm ci, then rewrite the template from node_modules
    python -m tools.plots_page check    # is the template the one package-lock.json gives?
"""

import argparse
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args, run_command
from mnist_dvc.core.errors import PipelineError
from mnist_dvc.core.files import write_text

# .dvc/config names it as plots.html_template, a path that DVC resolves from .dvc/.
TEMPLATE = paths.PLOTS_TEMPLATE
LOCKFILE = Path("package-lock.json")
NODE_MODULES = Path("node_modules")
BUILD_COMMAND = "python -m tools.plots_page build"
# In load order: Vega-Lite needs Vega, Vega-Embed needs both.
SCRIPTS = {
    "vega": "build/vega.min.js",
    "vega-lite": "build/vega-lite.min.js",
    "vega-embed": "build/vega-embed.min.js",
}

# DVC fills {refresh_tag} and {plot_divs}; there is deliberately no {scripts}, where it would put its CDN tags.
PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC plots</title>
    <!-- SCRIPTS -->
    <style>
        body { font-family: sans-serif; }
        table { border-spacing: 15px; }
        /* DVC's box of a figure (white-space: nowrap) holds a copy per revision. A figure of one revision takes
           half the width, two to a row; one of several revisions a row, each copy shrunk to its share of it, so
           that `dvc plots diff` never scrolls sideways. */
        body > div[style*="nowrap"] {
            display: inline-flex; flex-wrap: wrap; justify-content: center; align-items: flex-start;
            box-sizing: border-box; width: calc(50% - 8px); vertical-align: top; white-space: normal !important;
        }
        body > div[style*="nowrap"]:has(> div + div) { display: flex; width: auto; }
        body > div[style*="nowrap"] > p { flex-basis: 100%; }
        body > div[style*="nowrap"] > div { flex: 0 1 auto; min-width: 0; }
        body > div[style*="nowrap"] img { max-width: 100%; height: auto; }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""
DVC_PLACEHOLDERS = ("{scripts}", "{plot_divs}", "{refresh_tag}")


class PlotsPageError(PipelineError):
    """The template cannot be built, or is not the one that package-lock.json gives."""


def stamp(lockfile: Path = LOCKFILE) -> str:
    """A digest of what the template is made from: the pinned packages, the files taken from them, the page.

    Written into the template, it tells without npm whether the template is stale.
    """
    try:
        digest = hashlib.sha256(lockfile.read_bytes() + json.dumps(SCRIPTS).encode() + PAGE.encode()).hexdigest()
    except FileNotFoundError:
        raise PlotsPageError(f"{lockfile}: not found; run from the project root") from None
    return f"offline page {digest[:16]}"


def locked_versions(lockfile: Path = LOCKFILE) -> dict[str, str | None]:
    """The version that package-lock.json pins for each inlined package."""
    packages = json.loads(lockfile.read_text(encoding="utf-8")).get("packages", {})
    return {package: packages.get(f"node_modules/{package}", {}).get("version") for package in SCRIPTS}


def installed_versions(node_modules: Path = NODE_MODULES) -> dict[str, str | None]:
    """The version of each inlined package in node_modules; None for one that is not there."""
    return {package: _installed_version(node_modules / package) for package in SCRIPTS}


def holds_locked_packages(node_modules: Path = NODE_MODULES, lockfile: Path = LOCKFILE) -> bool:
    """Whether node_modules has each inlined package at the version the lock pins, so a rebuild can be compared."""
    installed = installed_versions(node_modules)
    return None not in installed.values() and installed == locked_versions(lockfile)


def _installed_version(package_dir: Path) -> str | None:
    try:
        return json.loads((package_dir / "package.json").read_text(encoding="utf-8"))["version"]
    except FileNotFoundError:
        return None


def build_page(node_modules: Path, stamp: str) -> str:
    """The page template with each package's build inlined, so the page needs no network."""
    scripts = [f"<!-- {stamp}: built by {BUILD_COMMAND} -->"]
    for package, build in SCRIPTS.items():
        version = _installed_version(node_modules / package)
        if version is None:
            raise PlotsPageError(f"{node_modules / package}: not installed; run {BUILD_COMMAND}")
        scripts.append(f"<script>/* {package} {version} */\n{_inlinable(node_modules / package / build)}\n</script>")
    return PAGE.replace("<!-- SCRIPTS -->", "\n    ".join(scripts))


def _inlinable(path: Path) -> str:
    """A script's code, checked to be safe inside <script> and from DVC's placeholder substitution."""
    try:
        code = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlotsPageError(f"{path}: not found; npm ci did not install the expected package layout") from None
    # The source map is not shipped in the page; a reference to it would only be a failed load in DevTools.
    code = re.sub(r"^//# sourceMappingURL=.*$", "", code, flags=re.MULTILINE).rstrip()
    for text in ("</script", *DVC_PLACEHOLDERS):
        if text in code.lower():
            raise PlotsPageError(f"{path}: contains {text!r}, which cannot be inlined into the page template")
    return code


def npm_ci(directory: Path) -> Path:
    """Install exactly what the package-lock.json in directory pins; return its node_modules.

    npm checks each package against the lock's integrity hash, so the same lock always gives the same files.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise PlotsPageError("npm not found on PATH; install Node.js and npm (Debian: apt-get install -y npm)")
    result = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
        cwd=directory,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise PlotsPageError(f"npm ci failed with exit status {result.returncode}: {lines[-1]}")
    return directory / NODE_MODULES


def build(template: Path = TEMPLATE, lockfile: Path = LOCKFILE) -> None:
    """Install the pinned packages beside lockfile and rewrite the template from them."""
    node_modules = npm_ci(lockfile.parent)
    write_text(template, build_page(node_modules, stamp(lockfile)))


def check(template: Path = TEMPLATE, lockfile: Path = LOCKFILE, node_modules: Path = NODE_MODULES) -> bool:
    """Raise unless template is what lockfile gives; return whether that was checked byte for byte.

    The stamp needs no npm. Where node_modules holds the versions the lock pins, the template is also
    rebuilt from them and compared: that catches a template edited by hand, or built by other code.
    """
    try:
        committed = template.read_bytes()
    except FileNotFoundError:
        raise PlotsPageError(f"{template}: not found; run {BUILD_COMMAND}") from None
    expected_stamp = stamp(lockfile)
    if expected_stamp.encode() not in committed:
        raise PlotsPageError(f"{template}: stale, not built from this {lockfile}; run {BUILD_COMMAND}")
    if not holds_locked_packages(node_modules, lockfile):
        return False
    if build_page(node_modules, expected_stamp).encode("utf-8") != committed:
        raise PlotsPageError(f"{template}: differs from what {BUILD_COMMAND} makes of {lockfile}; run it")
    return True


def _add_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help=f"npm ci, then rewrite {TEMPLATE} from the packages of {LOCKFILE} (needs npm)")
    commands.add_parser("check", help=f"fail unless {TEMPLATE} is what {LOCKFILE} gives (byte for byte if installed)")


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0], with_params=False, add_arguments=_add_commands)
    if args.command == "build":
        build()
        print(f"plots_page: built {TEMPLATE} from {LOCKFILE}")
    elif check():
        print(f"plots_page: {TEMPLATE} is what {LOCKFILE} gives, byte for byte")
    else:
        print(
            f"plots_page: {TEMPLATE} carries the stamp of {LOCKFILE}; not compared byte for byte, as {NODE_MODULES} "
            "does not hold the pinned packages (npm ci installs them)"
        )


if __name__ == "__main__":
    run_command("plots_page", main)
