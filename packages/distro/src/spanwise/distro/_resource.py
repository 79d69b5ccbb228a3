"""The resource: detectors (process, host, container, Kubernetes) plus the configured attributes.

Kubernetes attributes come from downward-API variables the pod spec sets (none is read from
the API server): ``K8S_POD_NAME`` or ``POD_NAME`` -> ``k8s.pod.name``, ``K8S_POD_UID`` or
``POD_UID`` -> ``k8s.pod.uid``, ``K8S_NAMESPACE_NAME``, ``K8S_NAMESPACE`` or ``POD_NAMESPACE``
-> ``k8s.namespace.name``, ``K8S_NODE_NAME`` or ``NODE_NAME`` -> ``k8s.node.name``,
``K8S_CONTAINER_NAME`` -> ``k8s.container.name``.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import sys
from collections.abc import Callable, Mapping
from importlib import metadata

from opentelemetry.sdk.resources import (
    SERVICE_NAME,
    Resource,
    ServiceInstanceIdResourceDetector,
)

from ._settings import Settings

__all__ = [
    "KUBERNETES_VARIABLES",
    "build_resource",
    "container_attributes",
    "host_attributes",
    "kubernetes_attributes",
    "process_attributes",
]

Attributes = dict[str, "str | int"]

#: Resource attribute -> the downward-API variables read for it, first set wins.
KUBERNETES_VARIABLES: Mapping[str, tuple[str, ...]] = {
    "k8s.pod.name": ("K8S_POD_NAME", "POD_NAME"),
    "k8s.pod.uid": ("K8S_POD_UID", "POD_UID"),
    "k8s.namespace.name": ("K8S_NAMESPACE_NAME", "K8S_NAMESPACE", "POD_NAMESPACE"),
    "k8s.node.name": ("K8S_NODE_NAME", "NODE_NAME"),
    "k8s.container.name": ("K8S_CONTAINER_NAME",),
}

_CONTAINER_ID = re.compile(r"([0-9a-f]{64})")
_MAX_READ = 64 * 1024


def process_attributes() -> Attributes:
    """``process.*`` of the current process (command arguments are left out: they may hold
    secrets)."""
    attrs: Attributes = {
        "process.pid": os.getpid(),
        "process.parent_pid": os.getppid(),
        "process.executable.path": sys.executable or "",
        "process.executable.name": os.path.basename(sys.executable or ""),
        "process.runtime.name": sys.implementation.name,
        "process.runtime.version": platform.python_version(),
        "process.runtime.description": sys.version,
    }
    argv0 = getattr(sys, "orig_argv", sys.argv)[:1]
    if argv0:
        attrs["process.command"] = argv0[0]
    return attrs


def host_attributes() -> Attributes:
    """``host.name`` and ``host.arch``, plus ``os.type``."""
    return {
        "host.name": socket.gethostname(),
        "host.arch": platform.machine(),
        "os.type": sys.platform if sys.platform != "win32" else "windows",
    }


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(_MAX_READ)
    except OSError:
        return ""


def container_id(cgroup: str, mountinfo: str) -> str | None:
    """The container id from ``/proc/self/cgroup`` (cgroup v1) or ``/proc/self/mountinfo``
    (cgroup v2: the ``/containers/<id>/`` path of the hostname or resolv.conf mount)."""
    for line in cgroup.splitlines():
        match = _CONTAINER_ID.search(line.rsplit("/", 1)[-1]) or _CONTAINER_ID.search(line)
        if match:
            return match.group(1)
    for line in mountinfo.splitlines():
        if "/containers/" in line or "/docker/" in line:
            for part in line.split():
                if "/containers/" in part or "/docker/" in part:
                    match = _CONTAINER_ID.search(part)
                    if match:
                        return match.group(1)
    return None


def container_attributes() -> Attributes:
    """``container.id`` when the process runs in a container."""
    found = container_id(_read("/proc/self/cgroup"), _read("/proc/self/mountinfo"))
    return {"container.id": found} if found else {}


def kubernetes_attributes(environ: Mapping[str, str] | None = None) -> Attributes:
    """``k8s.*`` from the downward-API variables in :data:`KUBERNETES_VARIABLES`."""
    env = os.environ if environ is None else environ
    attrs: Attributes = {}
    for attribute, names in KUBERNETES_VARIABLES.items():
        for name in names:
            value = env.get(name, "").strip()
            if value:
                attrs[attribute] = value
                break
    return attrs


DETECTORS: Mapping[str, Callable[[], Attributes]] = {
    "process": process_attributes,
    "host": host_attributes,
    "container": container_attributes,
    "kubernetes": kubernetes_attributes,
}


def build_resource(settings: Settings) -> Resource:
    """The SDK defaults, the detectors' attributes, then ``OTEL_RESOURCE_ATTRIBUTES``, then
    ``OTEL_SERVICE_NAME`` (each later one wins). A failing detector is skipped.

    .. versionadded:: 0.1.0
    """
    attrs: dict[str, str | int] = {}
    for name in settings.resource_detectors:
        detector = DETECTORS.get(name)
        if detector is None:
            continue
        try:
            attrs.update(detector())
        except Exception:  # noqa: BLE001  a detector never stops the SDK from starting
            continue
    attrs.update(settings.resource_attributes)
    if settings.service_name:
        attrs[SERVICE_NAME] = settings.service_name
    base = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": _sdk_version(),
        "telemetry.distro.name": "spanwise-distro",
        "telemetry.distro.version": _distro_version(),
        SERVICE_NAME: "unknown_service",
    }
    # service.instance.id from the SDK's detector: the providers renew it after a fork.
    return Resource(base).merge(ServiceInstanceIdResourceDetector().detect()).merge(Resource(attrs))


def _sdk_version() -> str:
    try:
        return metadata.version("opentelemetry-sdk")
    except metadata.PackageNotFoundError:
        return "unknown"


def _distro_version() -> str:
    try:
        return metadata.version("spanwise-distro")
    except metadata.PackageNotFoundError:
        return "unknown"
