"""Smoke checks run INSIDE a class image (copied in by jh_pipeline.images.smoke; not part of the build context, so editing a check does not rebuild images).

Usage: python smoke_checks.py PLAN_JSON  ->  prints one JSON list of {name, passed, message}.
Standard library only (it runs with whatever python3 is first on PATH: the class env's). Jupyter
programs are the server env's ($JH_SERVER_ENV), called by path as the start-up scripts do; the
checks look at the image the way a student meets it: the default kernel, a terminal's python/pip.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor


def result(name, passed, message):
    return {"name": name, "passed": bool(passed), "message": message}


def run(cmd, timeout=300, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


JUPYTER = os.path.join(os.environ.get("JH_SERVER_ENV", "/opt/jupyter"), "bin", "jupyter")
DEFAULT_KERNEL = "python3"


def kernelspecs():
    proc = run([JUPYTER, "kernelspec", "list", "--json"])
    return json.loads(proc.stdout or "{}").get("kernelspecs", {}) if proc.returncode == 0 else {}


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
    modules = sorted({m.strip() for v in found.values() if v[0] == "ok" for m in v[1].split(",") if m.strip()
                      and m.strip() != "(no modules)"})
    plan["_modules"] = modules  # the default-kernel notebook imports the same modules
    return result("packages_import", True, f"{checked} packages imported, {len(found) - checked} not Python")


def check_kernelspec(plan):
    """The class kernel is THE Python kernel: named python3, running the class env; no other Python kernel."""
    specs = kernelspecs()
    default = specs.get(DEFAULT_KERNEL, {}).get("spec")
    if default is None:
        return result("default_kernel", False, f"no '{DEFAULT_KERNEL}' kernel; have {sorted(specs)}")
    argv0 = (default.get("argv") or [""])[0]
    env = os.path.dirname(os.path.dirname(plan["env_python"]))
    problems = []
    if not os.path.realpath(argv0).startswith(os.path.realpath(env) + "/") and not argv0.startswith(env + "/"):
        problems.append(f"'{DEFAULT_KERNEL}' runs {argv0}, not the class env {env}")
    if plan.get("display_name") and default.get("display_name") != plan["display_name"]:
        problems.append(f"display name {default.get('display_name')!r}, expected {plan['display_name']!r}")
    others = sorted(n for n, s in specs.items() if n != DEFAULT_KERNEL
                    and s.get("spec", {}).get("language", "").lower() == "python")
    if others:
        problems.append(f"other Python kernels are shown: {', '.join(others)}")
    missing = [k for k in plan["kernels"] if k not in specs]
    if missing:
        problems.append(f"kernels missing: {', '.join(missing)}")
    return result("default_kernel", not problems,
                  "; ".join(problems) or f"{DEFAULT_KERNEL} = {default.get('display_name')} ({argv0}); kernels: {sorted(specs)}")


def check_terminal(plan):
    """A terminal's `python` and `pip` (plain and login shells) are the class env's."""
    env = os.path.dirname(os.path.dirname(plan["env_python"]))
    problems, seen = [], []
    for shell in (["bash", "-c"], ["bash", "-lc"]):
        proc = run(shell + ["python -c 'import sys; print(sys.prefix)' && pip --version"])
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or len(lines) < 2:
            problems.append(f"{' '.join(shell)}: {proc.stderr[-500:]}")
            continue
        prefix, pip = lines[0], lines[-1]
        if prefix != env:
            problems.append(f"{' '.join(shell)}: python is {prefix}, not {env}")
        if env + "/" not in pip:
            problems.append(f"{' '.join(shell)}: pip is {pip}")
        seen.append(f"{shell[-1]}: {prefix}")
    return result("terminal_python_pip", not problems, "; ".join(problems) or ", ".join(seen))


def check_sqlite_kernel(plan):
    error = execute_notebook("xsqlite", "SELECT 6 * 7 AS answer;", "42")
    return result("sqlite_kernel", error is None, error or "xsqlite ran SELECT 6 * 7")


def execute_notebook(kernel, code, expected):
    """Run a one-cell notebook with nbconvert; None when its output holds `expected`, else why not."""
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                     "source": code}],
          "metadata": {"kernelspec": {"name": kernel, "display_name": kernel}}, "nbformat": 4, "nbformat_minor": 5}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "smoke.ipynb")
        with open(path, "w") as fh:
            json.dump(nb, fh)
        proc = run([JUPYTER, "nbconvert", "--to", "notebook", "--execute", "--inplace",
                    f"--ExecutePreprocessor.kernel_name={kernel}", path])
        if proc.returncode != 0:
            return f"{kernel}: {proc.stderr[-1500:]}"
        text = open(path).read()
        if expected not in text:
            return f"{kernel}: output lacks {expected!r}"
    return None


def check_notebook(plan):
    messages = []
    notebooks = list(plan["notebooks"])
    if plan.get("_modules"):
        # What a student does first: a new notebook (default kernel) importing the class's packages.
        imports = "; ".join(f"import {m}" for m in plan["_modules"])
        notebooks.append([DEFAULT_KERNEL, f"{imports}\nprint('imported', len({plan['_modules']!r}))",
                          f"imported {len(plan['_modules'])}"])
    for kernel, code, expected in notebooks:
        error = execute_notebook(kernel, code, expected)
        if error:
            return result("notebook_executes", False, error)
        messages.append(kernel)
    return result("notebook_executes", True, ", ".join(messages))


def check_singleuser(plan):
    path = shutil.which("jupyterhub-singleuser")
    return result("jupyterhub_singleuser", path is not None, path or "jupyterhub-singleuser not on PATH")


# --- R (targets r_lang, r_julia) ---------------------------------------------------------------

R_KERNEL = "ir"


def check_ir_kernelspec(plan):
    specs = kernelspecs()
    if R_KERNEL not in specs:
        return result("ir_kernelspec", False, f"kernel '{R_KERNEL}' missing; have {sorted(specs)}")
    spec = specs[R_KERNEL].get("spec", {})
    argv = spec.get("argv") or [""]
    if spec.get("language", "").lower() != "r" or not os.access(argv[0], os.X_OK):
        return result("ir_kernelspec", False, f"kernel '{R_KERNEL}' is not a runnable R kernel: {spec}")
    return result("ir_kernelspec", True, f"{R_KERNEL} ({spec.get('display_name')}): {argv[0]}")


def check_r_notebook(plan):
    # The kernel must be the class env's R: the notebook prints R.home(), compared with the env's own.
    proc = run([plan["env_rscript"], "-e", "cat(normalizePath(R.home()))"])
    if proc.returncode != 0:
        return result("r_notebook", False, f"{plan['env_rscript']}: {proc.stderr[-1500:]}")
    expected = f"smoke-r {proc.stdout.strip()} 42"
    error = execute_notebook(R_KERNEL, 'cat("smoke-r", normalizePath(R.home()), 6 * 7, "\\n")', expected)
    return result("r_notebook", error is None, error or f"{R_KERNEL} ran in {proc.stdout.strip()}")


# Each name: the installed package whose DESCRIPTION name matches case-insensitively (conda's
# r-randomforest is randomForest), loaded with library(). One line per name: status, name, found, detail.
R_LOAD_PROBE = r"""
names <- commandArgs(trailingOnly = TRUE)
installed <- unique(rownames(installed.packages()))
clean <- function(x) gsub("[[:space:]]+", " ", x)
for (name in names) {
  found <- installed[tolower(installed) == tolower(name)]
  if (!length(found)) { cat("missing\t", name, "\t\t\n", sep = ""); next }
  pkg <- found[[1L]]
  err <- tryCatch({ suppressPackageStartupMessages(library(pkg, character.only = TRUE)); "" },
                  error = function(e) conditionMessage(e))
  cat(if (nzchar(err)) "fail" else "ok", "\t", name, "\t", pkg, "\t", clean(err), "\n", sep = "")
}
"""


def check_r_packages_load(plan):
    required = list(dict.fromkeys(plan.get("r_packages", [])))  # named in packages.R: must be there
    conda = [n for n in dict.fromkeys(plan.get("r_conda_packages", [])) if n not in required]
    names = required + conda
    if not names:
        return result("r_packages_load", True, "no R packages listed")
    proc = run([plan["env_rscript"], "-e", R_LOAD_PROBE, *names], timeout=900)
    if proc.returncode != 0:
        return result("r_packages_load", False, proc.stderr[-2000:])
    seen = {}
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            seen[parts[1]] = parts
    failed, loaded, skipped = [], [], []
    for name in names:
        status, _, pkg, detail = seen.get(name, ["missing", name, "", "no answer from R"])
        if status == "ok":
            loaded.append(pkg)
        elif status == "missing" and name in conda:
            skipped.append(name)  # a conda r-* package with no R library (a metapackage like r-essentials)
        else:
            failed.append(f"{name} ({detail or 'not installed'})")
    if failed:
        return result("r_packages_load", False, "; ".join(failed))
    message = f"{len(loaded)} loaded: {', '.join(loaded)}"
    if skipped:
        message += f"; no R library package for conda {', '.join('r-' + n for n in skipped)}"
    return result("r_packages_load", True, message)


# --- MySQL (class.yaml mysql: true) --------------------------------------------------------------

MYSQL_PROBE = r"""
import sys
port = int(sys.argv[1])
try:
    import pymysql as driver
except ImportError:
    try:
        import mysql.connector as driver
    except ImportError:
        sys.exit("no Python MySQL client in the class env (pymysql or mysql-connector-python)")
conn = driver.connect(host="127.0.0.1", port=port, user="root", password="", autocommit=True)
cur = conn.cursor()
cur.execute("CREATE DATABASE IF NOT EXISTS jh_smoke")
cur.execute("CREATE TABLE IF NOT EXISTS jh_smoke.t (id INT PRIMARY KEY, name VARCHAR(40))")
cur.execute("REPLACE INTO jh_smoke.t VALUES (1, 'smoke-row')")
cur.execute("SELECT name FROM jh_smoke.t WHERE id = 1")
(name,) = cur.fetchone()
cur.execute("SELECT VERSION()")
(version,) = cur.fetchone()
conn.close()
print(driver.__name__, name, version)
"""


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listeners(port):
    # Local addresses LISTENing on `port` (containers share the host's network namespace).
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


def check_mysql_roundtrip(plan):
    start = shutil.which("start-mysql.sh")
    if start is None:
        return result("mysql_roundtrip", False, "start-mysql.sh not on PATH (built without INSTALL_MYSQL=1?)")
    port = _free_port()
    env = {**os.environ, "MYSQL_PORT": str(port)}
    # From a login shell, as a student's terminal starts it (/etc/profile's PATH, no /usr/sbin).
    proc = run(["bash", "-lc", "start-mysql.sh"], timeout=180, env=env)
    try:
        if proc.returncode != 0:
            return result("mysql_roundtrip", False, f"start-mysql.sh: {(proc.stdout + proc.stderr)[-1500:]}")
        wide = [a for a in _listeners(port) if a not in ("0100007F", "00000000000000000000000001000000")]
        if wide:
            return result("mysql_roundtrip", False, f"the server listens beyond 127.0.0.1 on port {port}: {wide}")
        client = run([plan["env_python"], "-c", MYSQL_PROBE, str(port)], timeout=120)
        if client.returncode != 0 or "smoke-row" not in client.stdout:
            return result("mysql_roundtrip", False, f"client: {(client.stdout + client.stderr)[-1500:]}")
        driver, _, version = client.stdout.split()[:3]
        return result("mysql_roundtrip", True, f"{driver} wrote and read a row on 127.0.0.1:{port} (server {version})")
    finally:
        run([start, "stop"], timeout=60, env=env)


CHECKS = {
    "uid": check_uid,
    "imports": check_imports,
    "kernelspec": check_kernelspec,
    "notebook": check_notebook,
    "singleuser": check_singleuser,
    "terminal": check_terminal,
    "sqlite_kernel": check_sqlite_kernel,
    "ir_kernelspec": check_ir_kernelspec,
    "r_notebook": check_r_notebook,
    "r_packages_load": check_r_packages_load,
    "mysql_roundtrip": check_mysql_roundtrip,
}


# Run before the others: the notebook check imports the modules this one found (plan["_modules"]).
FIRST = ("imports",)


def run_check(name, plan):
    try:
        return CHECKS[name](plan)
    except Exception as exc:  # a crashing check is a failed check, with its reason
        return result(name, False, f"{type(exc).__name__}: {exc}")


def main():
    plan = json.loads(sys.argv[1])
    names = plan["checks"]
    found = {name: run_check(name, plan) for name in names if name in FIRST}
    # The rest are independent and mostly wait on kernels and servers starting: side by side.
    rest = [name for name in names if name not in FIRST]
    with ThreadPoolExecutor(max_workers=4) as pool:
        found.update(zip(rest, pool.map(lambda name: run_check(name, plan), rest)))
    print(json.dumps([found[name] for name in names]))


if __name__ == "__main__":
    main()
