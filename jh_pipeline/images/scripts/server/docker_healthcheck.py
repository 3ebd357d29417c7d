#!/usr/bin/env python3
"""HEALTHCHECK of the server image: exit 0 when the running Jupyter server answers on /api, else 1.

The server writes jpserver-<pid>.json into its runtime dir; the check reads the newest one whose
process still lives (port, base_url, http or https) and GETs <base_url>api on the loopback address.
Without such a file (another user's home, unreadable) it tries 127.0.0.1:${JUPYTER_PORT:-8888}.
Docker runs the check as the image's user, or root when the container started as root, with the
container's environment. Standard library only, Python >= 3.8; self-signed certificates are accepted.
"""

import glob
import json
import os
import ssl
import sys
import urllib.request

TIMEOUT = 5


def runtime_dirs():
    dirs = []
    if os.environ.get("JUPYTER_RUNTIME_DIR"):
        dirs.append(os.environ["JUPYTER_RUNTIME_DIR"])
    homes = [os.environ.get("HOME", ""), "/home/" + os.environ.get("NB_USER", "jovyan")]
    data_home = os.environ.get("XDG_DATA_HOME")
    if data_home:
        dirs.append(os.path.join(data_home, "jupyter", "runtime"))
    dirs += [os.path.join(h, ".local", "share", "jupyter", "runtime") for h in homes if h]
    return dirs


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def candidate_urls():
    infos = []
    for directory in runtime_dirs():
        for path in glob.glob(os.path.join(directory, "jpserver-*.json")):
            try:
                with open(path) as handle:
                    info = json.load(handle)
                infos.append((os.path.getmtime(path), info))
            except (OSError, ValueError):
                continue
    urls = []
    for _, info in sorted(infos, key=lambda item: item[0], reverse=True):
        pid = int(info.get("pid") or 0)
        if pid > 0 and not alive(pid):  # left behind by a server that died
            continue
        scheme = "https" if info.get("secure") else "http"
        host = info.get("hostname") or "127.0.0.1"
        if host in ("0.0.0.0", "::", "", "localhost"):
            host = "127.0.0.1"
        urls.append(f"{scheme}://{host}:{info['port']}{info.get('base_url') or '/'}api")
    port = os.environ.get("JUPYTER_PORT") or "8888"
    urls += [f"http://127.0.0.1:{port}/api", f"https://127.0.0.1:{port}/api"]
    return urls


def main():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # No proxy: the server is local, whatever http_proxy says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    for url in candidate_urls():
        try:
            with opener.open(url, timeout=TIMEOUT) as response:
                body = response.read()
        except OSError as error:
            print(f"{url}: {error}", file=sys.stderr)
            continue
        print(f"{url}: {body.decode(errors='replace')}")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
