"""A module's first import runs through the function given, once; a module already imported is left alone."""

import sys

from mnist_dvc.core.first_import import on_first_import


def test_the_first_import_runs_through_the_function_and_only_the_first(tmp_path, monkeypatch):
    (tmp_path / "probe_module.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.delitem(sys.modules, "probe_module", raising=False)
    seen = []

    def run(exec_module, module):
        seen.append(("before", hasattr(module, "VALUE")))
        exec_module(module)
        seen.append(("after", module.VALUE))

    on_first_import(("other_module", "probe_module"), run)
    import probe_module

    assert probe_module.VALUE == 1 and seen == [("before", False), ("after", 1)]
    del sys.modules["probe_module"]
    import probe_module  # noqa: F811, F401

    assert len(seen) == 2, "the hook is gone after the first import"


def test_nothing_is_hooked_once_a_module_is_imported(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    hooks = len(sys.meta_path)
    on_first_import(("json", "not_imported_yet"), lambda exec_module, module: None)
    assert len(sys.meta_path) == hooks
