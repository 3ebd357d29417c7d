"""Blocking checks run INSIDE the shared server image (copied in by jh_pipeline.images.smoke).

Usage: python server_checks.py PLAN_JSON  ->  prints one JSON list of {name, passed, message}.
Standard library only. The server env is $JH_SERVER_ENV (/opt/jupyter); its programs are called by
path, as the start-up scripts do.
"""

import fnmatch
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

SERVER_ENV = os.environ.get("JH_SERVER_ENV", "/opt/jupyter")


def result(name, passed, message):
    return {"name": name, "passed": bool(passed), "message": message}


def run(cmd, timeout=300, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def plain(proc):
    """stdout + stderr without the colour codes `jupyter ... list` prints."""
    return ANSI.sub("", proc.stdout + proc.stderr)


def tool(name):
    return os.path.join(SERVER_ENV, "bin", name)


def _records():
    """conda-meta records of the server env by package name."""
    found = {}
    for path in glob.glob(os.path.join(SERVER_ENV, "conda-meta", "*.json")):
        with open(path) as fh:
            record = json.load(fh)
        found[record["name"]] = record
    return found


def _provided_extensions(names):
    """(server extension modules, lab extension names) that the packages `names` install."""
    records = _records()
    server, lab, missing = {}, {}, []
    for name in names:
        record = records.get(name)
        if record is None:
            missing.append(name)
            continue
        for rel in record.get("files", []):
            if rel.startswith("etc/jupyter/jupyter_server_config.d/") and rel.endswith(".json"):
                with open(os.path.join(SERVER_ENV, rel)) as fh:
                    config = json.load(fh)
                for module in config.get("ServerApp", {}).get("jpserver_extensions", {}):
                    server[module] = name
            if rel.startswith("share/jupyter/labextensions/") and rel.endswith("/package.json"):
                ext = rel[len("share/jupyter/labextensions/"):-len("/package.json")]
                if "/node_modules/" not in ext and "/static/" not in ext:
                    lab[ext] = name
    return server, lab, missing


def check_extensions(plan):
    server, lab, missing = _provided_extensions(plan["common_packages"])
    if missing:
        return [result("common_packages", False, f"not in the server env: {', '.join(missing)}")]
    out = []
    proc = run([tool("jupyter"), "server", "extension", "list"])
    text = plain(proc)
    bad = [m for m in server if not (f"{m} enabled" in text and _validated(text, m))]
    out.append(result("server_extensions", proc.returncode == 0 and not bad,
                      f"not enabled or not loading: {', '.join(bad)}" if bad
                      else f"{len(server)} enabled: {', '.join(sorted(server)) or '(none provided)'}"))
    proc = run([tool("jupyter"), "labextension", "list"])
    text = plain(proc)
    bad = [e for e in lab if not any(line.split()[:1] == [e] and "enabled" in line and "OK" in line
                                     for line in text.splitlines() if line.strip())]
    out.append(result("lab_extensions", proc.returncode == 0 and not bad,
                      f"not enabled: {', '.join(bad)}\n{text[-1500:]}" if bad
                      else f"{len(lab)} enabled: {', '.join(sorted(lab)) or '(none provided)'}"))
    return out


def _validated(text, module):
    # `jupyter server extension list` prints "- Validating <module>..." then "<module> <version> OK".
    return any(line.strip().startswith(module) and line.strip().endswith("OK") for line in text.splitlines())


def check_versions(plan):
    proc = run([tool("jupyter"), "lab", "--version"])
    lab = proc.stdout.strip()
    hub = run([tool("jupyterhub-singleuser"), "--version"]).stdout.strip()
    problems = []
    if not fnmatch.fnmatch(lab, plan["jupyterlab"]):
        problems.append(f"JupyterLab {lab or '?'} is not {plan['jupyterlab']}")
    if not (hub == plan["hub_version"] or hub.startswith(plan["hub_version"] + ".")):
        problems.append(f"jupyterhub-singleuser {hub or '?'} is not of the hub series {plan['hub_version']}")
    return result("server_versions", not problems, "; ".join(problems) or f"JupyterLab {lab}, jupyterhub-singleuser {hub}")


def check_git(plan):
    path = shutil.which("git")
    if path is None:
        return result("git", False, "git not on PATH (nbgitpuller and jupyterlab-git need it): add it to requirements/common/apt.txt")
    return result("git", True, run([path, "--version"]).stdout.strip())


def check_tools(plan):
    """What notebook exports and terminals expect of the image: pandoc (nbconvert) and ps (procps)."""
    missing = [tool for tool in ("pandoc", "ps") if shutil.which(tool) is None]
    if missing:
        return result("os_tools", False, f"not on PATH: {', '.join(missing)} (add pandoc / procps to requirements/common/apt.txt)")
    version = run(["pandoc", "--version"]).stdout.splitlines()[:1]
    return result("os_tools", True, f"{version[0] if version else 'pandoc'}; ps")


EXPORT_NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "id": "m1", "metadata": {},
         "source": "# Smoke export\n\nSome *markdown* with math $e^{i\\pi} + 1 = 0$ and\n\n$$\\int_0^1 x\\,dx = \\frac{1}{2}$$\n"},
        {"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {}, "source": "print('hi')",
         "outputs": [
             {"output_type": "stream", "name": "stdout", "text": "hi\n"},
             {"output_type": "display_data", "metadata": {}, "data": {
                 "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'><rect width='10' height='10'/></svg>",
                 "text/plain": "<svg>"}},
         ]},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _export(fmt, suffix, timeout=600):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "smoke.ipynb")
        with open(path, "w") as fh:
            json.dump(EXPORT_NOTEBOOK, fh)
        proc = run([tool("jupyter"), "nbconvert", "--to", fmt, path], timeout=timeout)
        out = os.path.join(tmp, "smoke" + suffix)
        if proc.returncode != 0 or not os.path.exists(out):
            return None, proc.stderr[-1500:]
        with open(out, "rb") as fh:
            return fh.read(), ""


def check_html_export(plan):
    data, error = _export("html", ".html")
    if data is None:
        return result("html_export", False, error)
    # nbconvert inlines SVG output either as markup or as a data: URI
    svg = b"<svg" in data or b"data:image/svg+xml" in data
    ok = b"Smoke export" in data and svg and b"e^{i\\pi}" in data
    return result("html_export", ok, f"{len(data)} bytes: markdown, math and SVG" if ok
                  else "heading, math or SVG missing in the HTML")


def check_pdf_export(plan):
    if not plan.get("expect_pdf"):
        return result("pdf_export", True, "no TeX in the common apt list: PDF export not offered")
    data, error = _export("pdf", ".pdf")
    if data is None:
        return result("pdf_export", False, error)
    return result("pdf_export", data.startswith(b"%PDF"), f"{len(data)} bytes")


def check_uid(plan):
    return result("runs_as_uid_1000", os.getuid() == plan["uid"], f"uid {os.getuid()}")


CHECKS = {
    "uid": check_uid,
    "extensions": check_extensions,
    "versions": check_versions,
    "git": check_git,
    "tools": check_tools,
    "html_export": check_html_export,
    "pdf_export": check_pdf_export,
}


def run_check(name, plan):
    try:
        found = CHECKS[name](plan)
    except Exception as exc:  # a crashing check is a failed check, with its reason
        found = result(name, False, f"{type(exc).__name__}: {exc}")
    return found if isinstance(found, list) else [found]


def main():
    plan = json.loads(sys.argv[1])
    # Independent checks (the exports each in their own temporary folder): side by side.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [r for found in pool.map(lambda name: run_check(name, plan), plan["checks"]) for r in found]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
