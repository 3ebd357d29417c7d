"""Julia smoke checks run INSIDE an r_julia class image (copied in by jh_pipeline.images.julia_smoke,
like smoke_checks.py: not part of the build context, so editing a check does not rebuild images).

Usage: python julia_checks.py PLAN_JSON  ->  prints one JSON list of {name, passed, message}.
PLAN_JSON: {"checks": ["kernelspec", "notebook", "packages"], "kernel": "julia",
            "packages": ["IJulia", ...]}   (packages: the names in requirements.jl)

Runs as the notebook user with the image's own environment (JULIA_DEPOT_PATH etc.), so it sees
what a student sees: `julia` on PATH, the default environment, the registered kernel.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile


def result(name, passed, message):
    return {"name": name, "passed": bool(passed), "message": message}


def run(cmd, timeout=900, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def tail(text, n=1500):
    return text.strip()[-n:]


# The server env's Jupyter, by path: in class images the class env comes first on PATH.
JUPYTER = os.path.join(os.environ.get("JH_SERVER_ENV", "/opt/jupyter"), "bin", "jupyter")


def check_kernelspec(plan):
    kernel = plan["kernel"]
    if not os.access(JUPYTER, os.X_OK):
        return [result("julia_kernelspec", False, f"kernel '{kernel}' missing: no Jupyter at {JUPYTER}")]
    proc = run([JUPYTER, "kernelspec", "list", "--json"], timeout=120)
    if proc.returncode != 0:
        return [result("julia_kernelspec", False, f"jupyter kernelspec list failed: {tail(proc.stderr)}")]
    specs = json.loads(proc.stdout).get("kernelspecs", {})
    if kernel not in specs:
        return [result("julia_kernelspec", False, f"kernel '{kernel}' missing; have {sorted(specs)}")]
    spec = specs[kernel].get("spec", {})
    argv = spec.get("argv") or []
    if spec.get("language") != "julia":
        return [result("julia_kernelspec", False, f"kernel '{kernel}' has language {spec.get('language')!r}")]
    if not argv or not os.access(argv[0], os.X_OK):
        return [result("julia_kernelspec", False, f"kernel '{kernel}' runs {argv[:1]}, which is not executable")]
    missing = [a for a in argv[1:] if a.endswith(".jl") and not os.path.isfile(a)]
    if missing:
        return [result("julia_kernelspec", False, f"kernel '{kernel}' script missing: {missing}")]
    return [result("julia_kernelspec", True, f"{kernel}: {spec.get('display_name')} ({specs[kernel]['resource_dir']})")]


NOTEBOOK_CODE = 'println("julia-smoke ", 6 * 7, " ", VERSION)'


def check_notebook(plan):
    kernel = plan["kernel"]
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                     "source": NOTEBOOK_CODE}],
          "metadata": {"kernelspec": {"name": kernel, "display_name": kernel, "language": "julia"}},
          "nbformat": 4, "nbformat_minor": 5}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "julia-smoke.ipynb")
        with open(path, "w") as fh:
            json.dump(nb, fh)
        # The first start of a kernel loads IJulia: allow for slow machines, but not forever.
        proc = run([JUPYTER, "nbconvert", "--to", "notebook", "--execute", "--inplace",
                    f"--ExecutePreprocessor.kernel_name={kernel}", "--ExecutePreprocessor.timeout=600",
                    "--ExecutePreprocessor.startup_timeout=600", path], timeout=1200)
        if proc.returncode != 0:
            return [result("julia_notebook", False, f"{kernel}: {tail(proc.stderr)}")]
        with open(path) as fh:
            outputs = json.load(fh)["cells"][0].get("outputs", [])
    text = "".join("".join(o.get("text", "")) if isinstance(o.get("text"), list) else o.get("text", "")
                   for o in outputs)
    if "julia-smoke 42" not in text:
        return [result("julia_notebook", False, f"{kernel}: output {text!r} lacks 'julia-smoke 42'")]
    return [result("julia_notebook", True, f"{kernel}: {text.strip()}")]


# Loads each package in one Julia process (loading is what costs time; one process per package
# would pay Julia's start-up each time). Prints tab-separated lines, parsed below. Files that
# appear in the first depot's compiled/ dir while loading mean the image's precompiled caches
# were not usable here (e.g. compiled for another CPU): reported by julia_precompiled.
LOAD_PROBE = r"""
names = ARGS
compiled = joinpath(first(DEPOT_PATH), "compiled")
listing() = isdir(compiled) ? Set(joinpath(r, f) for (r, _, fs) in walkdir(compiled) for f in fs) : Set{String}()
before = listing()
println("ENV\t", something(Base.load_path_expand("@v#.#"), "(none)"))
for name in names
    try
        Core.eval(Main, Expr(:using, Expr(:., Symbol(name))))
        println("OK\t", name)
    catch err
        msg = replace(sprint(showerror, err), r"\s+" => " ")
        println("FAIL\t", name, "\t", first(msg, 600))
    end
end
for path in sort(collect(setdiff(listing(), before)))
    println("COMPILED\t", path)
end
"""


def check_packages(plan):
    names = list(dict.fromkeys(plan["packages"]))
    if not names:
        return [result("julia_packages_load", False, "no packages to load: requirements.jl lists none")]
    julia = shutil.which("julia")
    if julia is None:
        return [result("julia_packages_load", False, "julia is not on PATH")]
    # The image's environment as is (no --project): the class env must be the default one.
    proc = run([julia, "--startup-file=no", "--history-file=no", "-e", LOAD_PROBE, *names], timeout=1800)
    lines = [line.split("\t") for line in proc.stdout.splitlines() if "\t" in line]
    ok = [p[1] for p in lines if p[0] == "OK"]
    failed = {p[1]: (p[2] if len(p) > 2 else "") for p in lines if p[0] == "FAIL"}
    compiled = [p[1] for p in lines if p[0] == "COMPILED"]
    default_env = next((p[1] for p in lines if p[0] == "ENV"), "?")
    unseen = [n for n in names if n not in ok and n not in failed]
    if proc.returncode != 0 or unseen:
        load = result("julia_packages_load", False,
                      f"julia exited {proc.returncode}, not reached: {unseen}: {tail(proc.stderr)}")
    elif failed:
        load = result("julia_packages_load", False, "; ".join(f"{k}: {v}" for k, v in failed.items()))
    else:
        load = result("julia_packages_load", True, f"{len(ok)} packages loaded from {default_env}")
    modules = sorted({os.path.basename(os.path.dirname(p)) for p in compiled})
    precompiled = result(
        "julia_precompiled", not compiled and not failed and proc.returncode == 0,
        f"recompiled at load time (image caches unusable here): {', '.join(modules)}" if compiled
        else ("no package needed compiling at load time" if not failed and proc.returncode == 0
              else "not decided: packages failed to load"))
    return [load, precompiled]


CHECKS = {
    "kernelspec": check_kernelspec,
    "notebook": check_notebook,
    "packages": check_packages,
}
NAMES = {"kernelspec": "julia_kernelspec", "notebook": "julia_notebook", "packages": "julia_packages_load"}


def main():
    plan = json.loads(sys.argv[1])
    plan.setdefault("kernel", "julia")
    results = []
    for name in plan["checks"]:
        try:
            results.extend(CHECKS[name](plan))
        except Exception as exc:
            results.append(result(NAMES.get(name, name), False, f"{type(exc).__name__}: {exc}"))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
