"""Resource detectors and the merged resource."""

from __future__ import annotations

import os

from spanwise.distro import load_settings
from spanwise.distro._resource import (
    build_resource,
    container_id,
    host_attributes,
    kubernetes_attributes,
    process_attributes,
)

CID = "a" * 12 + "0123456789abcdef" * 3 + "b" * 4


class TestContainerId:
    def test_cgroup_v1(self) -> None:
        """The 64-hex id at the end of a docker cgroup path."""
        cgroup = f"12:pids:/docker/{CID}\n11:cpu:/docker/{CID}\n"
        assert CID == container_id(cgroup, "")

    def test_mountinfo_v2(self) -> None:
        """With cgroup v2 (``0::/``) the id comes from the containers path of a mount."""
        mountinfo = (
            "1 2 0:1 / / rw - overlay overlay rw\n"
            f"3 4 0:5 /var/lib/docker/containers/{CID}/hostname /etc/hostname rw - ext4 /dev/x\n"
        )
        assert CID == container_id("0::/\n", mountinfo)

    def test_not_in_a_container(self) -> None:
        """No id anywhere: None."""
        assert container_id("0::/user.slice\n", "1 2 0:1 / / rw - ext4 /dev/sda1 rw\n") is None


class TestKubernetes:
    def test_downward_api_variables(self) -> None:
        """The K8S_* names win over the short ones; empty values are ignored."""
        env = {
            "K8S_POD_NAME": "web-1",
            "POD_NAME": "ignored",
            "POD_NAMESPACE": "shop",
            "NODE_NAME": "node-a",
            "K8S_POD_UID": "",
        }
        expected = {
            "k8s.pod.name": "web-1",
            "k8s.namespace.name": "shop",
            "k8s.node.name": "node-a",
        }
        assert expected == kubernetes_attributes(env)


class TestProcessAndHost:
    def test_process(self) -> None:
        """The current pid and parent pid."""
        attrs = process_attributes()
        assert (os.getpid(), os.getppid()) == (attrs["process.pid"], attrs["process.parent_pid"])

    def test_no_command_arguments(self) -> None:
        """Command arguments may hold secrets: not recorded."""
        assert "process.command_args" not in process_attributes()

    def test_host(self) -> None:
        """host.name and host.arch are present."""
        assert {"host.name", "host.arch", "os.type"} == set(host_attributes())


class TestBuildResource:
    def test_precedence(self) -> None:
        """Detectors < OTEL_RESOURCE_ATTRIBUTES < OTEL_SERVICE_NAME; SDK attributes present."""
        settings = load_settings(
            {
                "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,process.pid=7,team=x",
                "OTEL_SERVICE_NAME": "svc",
            }
        )
        attrs = dict(build_resource(settings).attributes)
        expected = {
            "service.name": "svc",
            "process.pid": "7",
            "team": "x",
            "telemetry.sdk.language": "python",
            "telemetry.distro.name": "spanwise-distro",
        }
        assert expected == {k: attrs[k] for k in expected}
        assert "service.instance.id" in attrs

    def test_detectors_can_be_chosen(self) -> None:
        """SPANWISE_RESOURCE_DETECTORS=host leaves out process attributes."""
        settings = load_settings({"SPANWISE_RESOURCE_DETECTORS": "host"})
        attrs = dict(build_resource(settings).attributes)
        assert ("host.name" in attrs, "process.pid" in attrs) == (True, False)

    def test_default_service_name(self) -> None:
        """Without a service name: unknown_service, as the specification says."""
        settings = load_settings({"SPANWISE_RESOURCE_DETECTORS": "none"})
        assert "unknown_service" == build_resource(settings).attributes["service.name"]
