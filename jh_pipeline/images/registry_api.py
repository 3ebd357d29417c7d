"""The registry's own HTTP API (distribution v2), for what the engine cannot do: list a repository's
tags, read a manifest's digest and creation time, delete a manifest, and tell within a bounded
time whether the registry answers at all.

Loopback registries (127.0.0.0/8, localhost) speak plain HTTP, as Docker assumes; every other one
HTTPS. Credentials: basic auth, or the bearer-token exchange registries such as Artifact Registry
ask for (the WWW-Authenticate challenge of a 401).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import requests

MANIFEST_TYPES = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
))


class RegistryUnreachable(RuntimeError):
    """The registry did not answer: the first line names it and the setting, then the detail."""


def registry_host(registry: str) -> str:
    return registry.split("/", 1)[0]


def base_url(host: str) -> str:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host
    loopback = name == "localhost" or name.startswith("127.") or name in ("[::1]", "::1")
    return f"{'http' if loopback else 'https'}://{host}"


def unreachable(host: str, setting: str, timeout: float, detail: object) -> RegistryUnreachable:
    return RegistryUnreachable(
        f"registry {host} ({setting}) did not answer within {timeout:g}s: check {setting} and that "
        f"the registry is up\n{type(detail).__name__}: {detail}"
    )


@dataclass
class RegistryApi:
    host: str
    timeout: float
    username: str = ""
    password: str = ""
    setting: str = "JH_REGISTRY"
    _tokens: dict[str, str] = field(default_factory=dict)

    def ping(self) -> None:
        """Raise RegistryUnreachable unless the registry answers /v2/ (any HTTP status) in time."""
        self._request("GET", "/v2/", scope=None)

    def tags(self, repository: str) -> list[str]:
        response = self._request("GET", f"/v2/{repository}/tags/list", scope=f"repository:{repository}:pull")
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return sorted(response.json().get("tags") or [])

    def manifest(self, repository: str, reference: str) -> tuple[str, dict[str, Any]]:
        """(digest, manifest) of a tag or digest."""
        response = self._request("GET", f"/v2/{repository}/manifests/{reference}",
                                 scope=f"repository:{repository}:pull", headers={"Accept": MANIFEST_TYPES})
        response.raise_for_status()
        return response.headers["Docker-Content-Digest"], response.json()

    def created(self, repository: str, manifest: dict[str, Any]) -> str:
        config = manifest["config"]["digest"]
        response = self._request("GET", f"/v2/{repository}/blobs/{config}", scope=f"repository:{repository}:pull")
        response.raise_for_status()
        return str(response.json().get("created", ""))

    def delete_manifest(self, repository: str, digest: str) -> None:
        response = self._request("DELETE", f"/v2/{repository}/manifests/{digest}",
                                 scope=f"repository:{repository}:delete")
        if response.status_code not in (202, 404):
            response.raise_for_status()

    def _request(self, method: str, path: str, scope: str | None, headers: dict[str, str] | None = None
                 ) -> requests.Response:
        url = base_url(self.host) + path
        headers = dict(headers or {})
        if scope and scope in self._tokens:
            headers["Authorization"] = f"Bearer {self._tokens[scope]}"
        response = self._send(method, url, headers)
        if response.status_code == 401 and scope is not None:
            challenge = response.headers.get("WWW-Authenticate", "")
            if challenge.lower().startswith("bearer"):
                self._tokens[scope] = self._token(challenge, scope)
                headers["Authorization"] = f"Bearer {self._tokens[scope]}"
                response = self._send(method, url, headers)
            elif self.username:
                response = self._send(method, url, headers, auth=(self.username, self.password))
        return response

    def _send(self, method: str, url: str, headers: dict[str, str],
              auth: tuple[str, str] | None = None) -> requests.Response:
        try:
            return requests.request(method, url, headers=headers, auth=auth, timeout=self.timeout)
        except requests.RequestException as exc:
            raise unreachable(self.host, self.setting, self.timeout, exc) from exc

    def _token(self, challenge: str, scope: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = params.pop("realm", "")
        params["scope"] = scope
        auth = (self.username, self.password) if self.username else None
        try:
            response = requests.get(realm, params=params, auth=auth, timeout=self.timeout)
        except requests.RequestException as exc:
            raise unreachable(self.host, self.setting, self.timeout, exc) from exc
        response.raise_for_status()
        body = response.json()
        return str(body.get("token") or body.get("access_token") or "")
