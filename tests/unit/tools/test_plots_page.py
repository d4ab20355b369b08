"""The offline page template of `dvc plots show` (tools.plots_page): how it is built, and that the committed one
is exactly what the builder makes of package-lock.json, so that every clone has the right one with no npm.

The byte-for-byte rebuild needs the pinned packages: node_modules when it holds them, else npm ci into a
scratch directory. Without either it skips, saying why; in CI (CI=true) it fails instead.
"""

import configparser
import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers.browser import skip_or_fail_in_ci
from tests.helpers.project import PROJECT_ROOT, run
from tools import plots_page

TEMPLATE = PROJECT_ROOT / plots_page.TEMPLATE
LOCKFILE = PROJECT_ROOT / plots_page.LOCKFILE


def fake_node_modules(root, code="var ok = 1;", version="1.2.3"):
    for package, build in plots_page.SCRIPTS.items():
        (root / package / build).parent.mkdir(parents=True)
        (root / package / build).write_text(f"/* {package} */ {code}\n//# sourceMappingURL=x.map\n")
        (root / package / "package.json").write_text(json.dumps({"version": version}))
    return root


def fake_lockfile(path, version="1.2.3"):
    packages = {f"node_modules/{package}": {"version": version} for package in plots_page.SCRIPTS}
    path.write_text(json.dumps({"lockfileVersion": 3, "packages": packages}))
    return path


@pytest.fixture(scope="module")
def pinned_node_modules(tmp_path_factory):
    """node_modules holding the packages that package-lock.json pins: the project's, or else a fresh npm ci."""
    installed = PROJECT_ROOT / plots_page.NODE_MODULES
    if plots_page.holds_locked_packages(installed, LOCKFILE):
        return installed
    if shutil.which("npm") is None:
        skip_or_fail_in_ci(
            "byte-for-byte rebuild of the template",
            "npm is not installed (Debian: apt-get install -y npm) and node_modules does not hold the pinned packages",
        )
    scratch = tmp_path_factory.mktemp("npm")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(PROJECT_ROOT / name, scratch / name)
    return plots_page.npm_ci(scratch)


def test_page_inlines_the_scripts_in_order_and_leaves_no_cdn_tags(tmp_path):
    page = plots_page.build_page(fake_node_modules(tmp_path), "stamp")
    assert "{plot_divs}" in page and "{refresh_tag}" in page
    assert "{scripts}" not in page, "DVC would put its CDN script tags there"
    assert "http" not in page and "sourceMappingURL" not in page
    positions = [page.index(f"/* {package} 1.2.3 */\n/* {package} */ var ok") for package in plots_page.SCRIPTS]
    assert positions == sorted(positions)


@pytest.mark.parametrize("code", ["'</script>'", "'{plot_divs}'"])
def test_scripts_that_would_break_the_page_are_refused(tmp_path, code):
    with pytest.raises(plots_page.PlotsPageError, match="cannot be inlined"):
        plots_page.build_page(fake_node_modules(tmp_path, code), "stamp")


def test_a_package_missing_from_node_modules_is_named(tmp_path):
    shutil.rmtree(fake_node_modules(tmp_path) / "vega-lite")
    with pytest.raises(plots_page.PlotsPageError, match=r"vega-lite: not installed; run python -m tools.plots_page"):
        plots_page.build_page(tmp_path, "stamp")


def test_build_needs_npm_and_leaves_the_template_alone_without_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    template = tmp_path / "page.html"
    template.write_text("as committed")
    with pytest.raises(plots_page.PlotsPageError, match=r"^npm not found on PATH; install Node.js and npm"):
        plots_page.build(template, fake_lockfile(tmp_path / "package-lock.json"))
    assert template.read_text() == "as committed"


def test_check_tells_a_stale_template_from_one_that_differs_from_its_rebuild(tmp_path):
    lockfile = fake_lockfile(tmp_path / "package-lock.json")
    node_modules = fake_node_modules(tmp_path / "node_modules")
    template = tmp_path / "page.html"
    with pytest.raises(plots_page.PlotsPageError, match="page.html: not found; run python -m tools.plots_page build"):
        plots_page.check(template, lockfile, node_modules)

    template.write_text(plots_page.build_page(node_modules, plots_page.stamp(lockfile)))
    assert plots_page.check(template, lockfile, node_modules) is True
    assert plots_page.check(template, lockfile, tmp_path / "no_node_modules") is False, "stamp only"

    template.write_text(template.read_text().replace("var ok = 1", "var ok = 2"))
    with pytest.raises(plots_page.PlotsPageError, match="differs from what python -m tools.plots_page build makes"):
        plots_page.check(template, lockfile, node_modules)

    fake_lockfile(lockfile, version="1.2.4")
    with pytest.raises(plots_page.PlotsPageError, match="stale, not built from this .*package-lock.json"):
        plots_page.check(template, lockfile, node_modules)


def test_dvc_config_names_the_committed_template():
    config = configparser.ConfigParser()
    config.read(PROJECT_ROOT / ".dvc" / "config")
    assert PROJECT_ROOT / ".dvc" / config["plots"]["html_template"] == TEMPLATE


def test_the_template_is_committed_not_ignored():
    result = subprocess.run(["git", "check-ignore", "-q", str(TEMPLATE)], cwd=PROJECT_ROOT)
    if result.returncode == 128:
        pytest.skip("not a git checkout")
    assert result.returncode == 1, f"git ignores {plots_page.TEMPLATE}, so a clone would not have it"


def test_the_committed_template_has_what_dvc_fills_in_and_loads_nothing():
    page = TEMPLATE.read_text(encoding="utf-8")
    assert "{plot_divs}" in page and "{refresh_tag}" in page
    assert "{scripts}" not in page, "DVC would put its CDN script tags there"
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page), "the page must load nothing"


def test_the_committed_template_is_stamped_with_package_lock_and_inlines_its_versions():
    page = TEMPLATE.read_text(encoding="utf-8")
    assert plots_page.stamp(LOCKFILE) in page, "stale: run python -m tools.plots_page build"
    inlined = dict(re.findall(r"<script>/\* (\S+) (\S+) \*/", page))
    assert inlined == plots_page.locked_versions(LOCKFILE)


def test_the_committed_template_is_byte_for_byte_what_the_builder_makes(pinned_node_modules):
    assert plots_page.check(TEMPLATE, LOCKFILE, pinned_node_modules) is True


def test_the_check_command_passes_on_the_committed_template():
    result = run([sys.executable, "-m", "tools.plots_page", "check"], PROJECT_ROOT)
    assert result.stdout.startswith(f"plots_page: {plots_page.TEMPLATE} ")


def test_errors_are_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tools.plots_page", "check"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "plots_page: error: .dvc/plots_offline.html: not found; run python -m tools.plots_page build\n"
    )
