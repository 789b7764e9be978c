"""The cluster's certificates, made here with the openssl CLI: one CA signs every serving and
client certificate; the service-account key pair signs pod tokens.

Client identities follow Kubernetes' conventions: the CN is the user and O the group, so RBAC's
built-in bindings (system:kube-scheduler, system:nodes, ...) apply without extra objects.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from local_cluster.errors import LocalClusterError

_DAYS = "3650"


@dataclass(frozen=True)
class CertSpec:
    """One key pair and the certificate the CA gives it."""

    name: str
    common_name: str
    organization: str | None = None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    server: bool = False
    client: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def cert_specs(
    node_name: str, bridge_address: str, kubernetes_service_ip: str, cluster_domain: str
) -> list[CertSpec]:
    """Every certificate the components need, by file name."""
    api_names = (
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{cluster_domain}",
        "localhost",
    )
    return [
        CertSpec(
            "apiserver",
            "kube-apiserver",
            dns_names=api_names,
            ip_addresses=("127.0.0.1", bridge_address, kubernetes_service_ip),
            server=True,
        ),
        CertSpec(
            "etcd",
            "etcd",
            dns_names=("localhost",),
            ip_addresses=("127.0.0.1",),
            server=True,
            client=True,
        ),
        CertSpec("apiserver-etcd-client", "kube-apiserver-etcd-client", client=True),
        CertSpec(
            "apiserver-kubelet-client",
            "kube-apiserver-kubelet-client",
            organization="system:masters",
            client=True,
        ),
        CertSpec("admin", "local-cluster-admin", organization="system:masters", client=True),
        CertSpec("controller-manager", "system:kube-controller-manager", client=True),
        CertSpec("scheduler", "system:kube-scheduler", client=True),
        CertSpec("kube-proxy", "system:kube-proxy", client=True),
        CertSpec(
            "kubelet-client", f"system:node:{node_name}", organization="system:nodes", client=True
        ),
        CertSpec(
            "kubelet-serving",
            node_name,
            dns_names=(node_name,),
            ip_addresses=(bridge_address,),
            server=True,
        ),
        # The project's own hostPath provisioner, bound to its ClusterRole by name.
        CertSpec("hostpath-provisioner", "finnhub:hostpath-provisioner", client=True),
    ]


def ensure_pki(pki_dir: Path, specs: list[CertSpec]) -> None:
    """Makes whatever is missing: CA, service-account keys, then each certificate."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    pki_dir.chmod(0o700)
    ca_key, ca_cert = pki_dir / "ca.key", pki_dir / "ca.crt"
    if not ca_cert.is_file():
        _openssl("genrsa", "-out", str(ca_key), "2048")
        _openssl(
            "req",
            "-x509",
            "-new",
            "-key",
            str(ca_key),
            "-sha256",
            "-days",
            _DAYS,
            "-subj",
            "/CN=local-cluster-ca",
            "-out",
            str(ca_cert),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        )
    if not (pki_dir / "sa.pub").is_file():
        _openssl("genrsa", "-out", str(pki_dir / "sa.key"), "2048")
        _openssl("rsa", "-in", str(pki_dir / "sa.key"), "-pubout", "-out", str(pki_dir / "sa.pub"))
    for spec in specs:
        if not (pki_dir / f"{spec.name}.crt").is_file():
            _issue(pki_dir, spec, ca_key, ca_cert)


def extensions(spec: CertSpec) -> str:
    """The x509v3 extension section of one certificate, in openssl's config syntax."""
    usages = [u for u, on in (("serverAuth", spec.server), ("clientAuth", spec.client)) if on]
    lines = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={','.join(usages)}",
    ]
    alt = [f"DNS:{name}" for name in spec.dns_names] + [f"IP:{ip}" for ip in spec.ip_addresses]
    if alt:
        lines.append(f"subjectAltName={','.join(alt)}")
    return "\n".join(lines) + "\n"


def _issue(pki_dir: Path, spec: CertSpec, ca_key: Path, ca_cert: Path) -> None:
    key, csr, crt = (pki_dir / f"{spec.name}.{ext}" for ext in ("key", "csr", "crt"))
    ext_file = pki_dir / f"{spec.name}.ext"
    subject = f"/CN={spec.common_name}" + (f"/O={spec.organization}" if spec.organization else "")
    ext_file.write_text(extensions(spec))
    _openssl("genrsa", "-out", str(key), "2048")
    _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_cert),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        _DAYS,
        "-sha256",
        "-extfile",
        str(ext_file),
        "-out",
        str(crt),
    )
    csr.unlink()
    ext_file.unlink()


def _openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LocalClusterError(f"openssl {args[0]} failed: {result.stderr.strip()}")
