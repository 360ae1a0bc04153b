"""The Pod Security Standards' checks, v1.30, written from the standard's own table, for the attack suite.

Source: "Pod Security Standards", https://kubernetes.io/docs/concepts/security/pod-security-standards/
(the page as of Kubernetes v1.30), tables "Baseline" and "Restricted". Each check below is one row of
those tables, named as there, with the fields and allowed values the row lists. This is an
independent implementation of the standard, not a copy of dctenant's code (dctenant only sets the
namespace labels; the API server's Pod Security Admission runs these checks).

``violations(level, pod)`` returns the names of the failed rows for a Pod manifest; an empty tuple
means the pod is admitted at that level. ``privileged`` admits everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

VERSION = "v1.30"
LEVELS = ("privileged", "baseline", "restricted")

# Baseline, "Capabilities": adding any other capability is forbidden.
BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
# Baseline, "SELinux": allowed types.
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
# Baseline, "Sysctls": the safe set as of v1.30 (the tcp_* keepalive/fin entries were added in v1.29).
SAFE_SYSCTLS = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                          "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                          "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                          "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                          "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"})
# Restricted, "Volume Types": the only volume sources allowed.
RESTRICTED_VOLUMES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                                "projected", "secret"})
APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("containers", "initContainers", "ephemeralContainers"):
        yield from spec.get(key) or []


def _baseline(pod: dict[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    pod_sc = spec.get("securityContext") or {}
    out = []
    containers = list(_containers(spec))
    scs = [c.get("securityContext") or {} for c in containers]
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess") or any(
            (sc.get("windowsOptions") or {}).get("hostProcess") for sc in scs):
        out.append("HostProcess")
    if any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")):
        out.append("Host Namespaces")
    if any(sc.get("privileged") for sc in scs):
        out.append("Privileged Containers")
    if any(set((sc.get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES for sc in scs):
        out.append("Capabilities")
    if any("hostPath" in v for v in spec.get("volumes") or []):
        out.append("HostPath Volumes")
    if any(p.get("hostPort") for c in containers for p in c.get("ports") or []):
        out.append("Host Ports")
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    profiles = [v for k, v in annotations.items() if k.startswith(APPARMOR_PREFIX)]
    types = [(sc.get("appArmorProfile") or {}).get("type") for sc in [pod_sc, *scs]]
    if any(v != "runtime/default" and not v.startswith("localhost/") for v in profiles) or any(
            t not in (None, "RuntimeDefault", "Localhost") for t in types):
        out.append("AppArmor")
    selinux = [sc.get("seLinuxOptions") or {} for sc in [pod_sc, *scs]]
    if any(o.get("type", "") not in SELINUX_TYPES or o.get("user") or o.get("role") for o in selinux):
        out.append("SELinux")
    if any(sc.get("procMount", "Default") != "Default" for sc in scs):
        out.append("/proc Mount Type")
    if any((sc.get("seccompProfile") or {}).get("type") == "Unconfined" for sc in [pod_sc, *scs]):
        out.append("Seccomp")
    if any(s.get("name") not in SAFE_SYSCTLS for s in pod_sc.get("sysctls") or []):
        out.append("Sysctls")
    return out


def _restricted(pod: dict[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    pod_sc = spec.get("securityContext") or {}
    scs = [c.get("securityContext") or {} for c in _containers(spec)]
    out = []
    if any(not (set(v) - {"name"}) <= RESTRICTED_VOLUMES for v in spec.get("volumes") or []):
        out.append("Volume Types")
    if any(sc.get("allowPrivilegeEscalation") is not False for sc in scs):
        out.append("Privilege Escalation")
    # A container-level value overrides the pod's; every container must end up non-root.
    if any(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True for sc in scs):
        out.append("Running as Non-root")
    if pod_sc.get("runAsUser") == 0 or any(sc.get("runAsUser") == 0 for sc in scs):
        out.append("Running as Non-root user")
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if any((sc.get("seccompProfile") or {}).get("type", pod_seccomp) not in ("RuntimeDefault", "Localhost")
           for sc in scs):
        out.append("Seccomp (restricted)")
    for sc in scs:
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []) or set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            out.append("Capabilities (restricted)")
            break
    return out


def violations(level: str, pod: dict[str, Any]) -> tuple[str, ...]:
    """The rows of the standard ``pod`` fails at ``level`` (baseline rows apply to restricted too)."""
    if level not in LEVELS:
        raise ValueError(f"unknown Pod Security level {level!r}")
    if level == "privileged":
        return ()
    found = _baseline(pod)
    if level == "restricted":
        found += _restricted(pod)
    return tuple(found)
