"""Smoke checks run INSIDE a class image (copied in by jh_pipeline.images.smoke; not part of the build context, so editing a check does not rebuild images).

Usage: python smoke_checks.py PLAN_JSON  ->  prints one JSON list of {name, passed, message}.
Runs with the image's Jupyter Python; the class env's Python does the imports.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile


def result(name, passed, message):
    return {"name": name, "passed": bool(passed), "message": message}


def run(cmd, timeout=300, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


IMPORT_PROBE = r"""
import importlib, importlib.metadata as md, json, sys
names, overrides = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {}
for name in names:
    modules = overrides.get(name)
    if modules is None:
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            out[name] = ["skip", "no Python distribution (not a Python package)"]
            continue
        top = (dist.read_text("top_level.txt") or "").split()
        if not top:
            files = [str(f) for f in (dist.files or [])]
            top = sorted({f.split("/")[0].removesuffix(".py") for f in files
                          if (f.endswith("/__init__.py") and f.count("/") == 1) or (f.endswith(".py") and "/" not in f)})
        modules = [m for m in top if not m.startswith("_") and m not in ("tests", "test")]
    failed = []
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # any import error is a finding
            failed.append(f"{module}: {type(exc).__name__}: {exc}")
    out[name] = ["fail", "; ".join(failed)] if failed else ["ok", ", ".join(modules) or "(no modules)"]
print(json.dumps(out))
"""


def check_uid(plan):
    uid = os.getuid()
    return result("runs_as_uid_1000", uid == plan["uid"], f"uid {uid}")


def check_imports(plan):
    proc = run([plan["env_python"], "-c", IMPORT_PROBE, json.dumps(plan["packages"]), json.dumps(plan["overrides"])])
    if proc.returncode != 0:
        return result("packages_import", False, proc.stderr[-2000:])
    found = json.loads(proc.stdout)
    failed = {k: v[1] for k, v in found.items() if v[0] == "fail"}
    checked = sum(v[0] == "ok" for v in found.values())
    if failed:
        return result("packages_import", False, "; ".join(f"{k} ({v})" for k, v in failed.items()))
    return result("packages_import", True, f"{checked} packages imported, {len(found) - checked} not Python")


def check_kernelspec(plan):
    proc = run(["jupyter", "kernelspec", "list", "--json"])
    specs = json.loads(proc.stdout or "{}").get("kernelspecs", {}) if proc.returncode == 0 else {}
    for name in plan["kernels"]:
        if name not in specs:
            return result("kernelspec", False, f"kernel '{name}' missing; have {sorted(specs)}")
    return result("kernelspec", True, ", ".join(plan["kernels"]))


def check_notebook(plan):
    messages = []
    for kernel, code, expected in plan["notebooks"]:
        nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                         "source": code}],
              "metadata": {"kernelspec": {"name": kernel, "display_name": kernel}}, "nbformat": 4, "nbformat_minor": 5}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "smoke.ipynb")
            with open(path, "w") as fh:
                json.dump(nb, fh)
            proc = run(["jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                        f"--ExecutePreprocessor.kernel_name={kernel}", path])
            if proc.returncode != 0:
                return result("notebook_executes", False, f"{kernel}: {proc.stderr[-1500:]}")
            text = open(path).read()
            if expected not in text:
                return result("notebook_executes", False, f"{kernel}: output lacks {expected!r}")
            messages.append(kernel)
    return result("notebook_executes", True, ", ".join(messages))


def check_singleuser(plan):
    path = shutil.which("jupyterhub-singleuser")
    return result("jupyterhub_singleuser", path is not None, path or "jupyterhub-singleuser not on PATH")


CHECKS = {
    "uid": check_uid,
    "imports": check_imports,
    "kernelspec": check_kernelspec,
    "notebook": check_notebook,
    "singleuser": check_singleuser,
}


def main():
    plan = json.loads(sys.argv[1])
    results = []
    for name in plan["checks"]:
        try:
            results.append(CHECKS[name](plan))
        except Exception as exc:
            results.append(result(name, False, f"{type(exc).__name__}: {exc}"))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
