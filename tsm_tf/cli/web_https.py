"""HTTPS for `tsm-web`: browsers give the camera only to secure pages, so a phone needs it.

A self-signed certificate for this machine's names and addresses is made on first use, kept in
the user's cache folder and reused while it still covers them; `--certfile/--keyfile` give one
instead. `phone_instructions` says which URLs a phone can open (with a QR code of the first) and
what its browser will ask.
"""

import contextlib
import datetime
import importlib
import io
import ipaddress
import os
import pathlib
import socket
import ssl

from tsm_tf.utils.atomic_files import write_atomically

CERTIFICATE_FILE = "certificate.pem"
KEY_FILE = "key.pem"
CERTIFICATE_DAYS = 365
# A certificate this close to its end is replaced rather than reused.
RENEW_BEFORE = datetime.timedelta(days=7)
WARNING = (
    "The certificate is self-signed, so the phone's browser warns once before opening the page: "
    "Chrome says 'Your connection is not private' (tap Advanced, then Proceed), Safari 'This "
    "Connection Is Not Private' (tap Show Details, then visit this website), Firefox 'Warning: "
    "Potential Security Risk Ahead' (tap Advanced, then Accept the Risk). Then it asks to use the "
    "camera: allow it."
)


def _web_dependency(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"tsm-web's HTTPS needs {module.split('.')[0]!r}: `pip install 'tsm_tf[web]'` installs it."
        ) from error


def network_addresses() -> list[str]:
    """This machine's IPv4 addresses other devices may reach it at (loopback left out)."""
    addresses = set()
    with contextlib.suppress(OSError):
        for *_, address in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addresses.add(address[0])
    # The host name may not resolve to the address of the default route; a UDP connect sends nothing.
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))
        addresses.add(probe.getsockname()[0])
    return sorted(address for address in addresses if not address.startswith("127."))


def certificate_names() -> tuple[list[str], list[str]]:
    """The host names and addresses a certificate for this machine should cover."""
    host_name = socket.gethostname()
    names = ["localhost", host_name] + ([] if "." in host_name else [f"{host_name}.local"])
    return names, ["127.0.0.1", *network_addresses()]


def default_certificate_directory() -> pathlib.Path:
    platformdirs = _web_dependency("platformdirs")
    return pathlib.Path(platformdirs.user_cache_dir("tsm_tf")) / "https"


def _covers(certificate_path: pathlib.Path, names, addresses) -> bool:
    x509 = _web_dependency("cryptography.x509")
    try:
        certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
        alternatives = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    covered_names = set(alternatives.get_values_for_type(x509.DNSName))
    covered_addresses = {
        str(address) for address in alternatives.get_values_for_type(x509.IPAddress)
    }
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        set(names) <= covered_names
        and set(addresses) <= covered_addresses
        and certificate.not_valid_after_utc - now > RENEW_BEFORE
    )


def self_signed_certificate(directory=None, names=None, addresses=None) -> tuple[str, str]:
    """Paths of a certificate and key for this machine, made in `directory` unless one there
    still covers its names and addresses (the machine may have moved to another network).

    Args:
        directory: where to keep them; default the user's cache folder (`tsm_tf/https`).
        names, addresses: what it must cover; default `certificate_names()`.

    Returns:
        `(certificate_path, key_path)`.
    """
    directory = pathlib.Path(directory or default_certificate_directory())
    certificate_path, key_path = directory / CERTIFICATE_FILE, directory / KEY_FILE
    if names is None or addresses is None:
        names, addresses = certificate_names()
    if key_path.exists() and _covers(certificate_path, names, addresses):
        return str(certificate_path), str(key_path)

    _web_dependency("cryptography.x509")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"tsm-web on {names[1]}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    alternatives = [x509.DNSName(name) for name in names] + [
        x509.IPAddress(ipaddress.ip_address(address)) for address in addresses
    ]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_atomically(key_path, key_bytes)
    os.chmod(key_path, 0o600)
    write_atomically(certificate_path, certificate.public_bytes(serialization.Encoding.PEM))
    return str(certificate_path), str(key_path)


def server_context(certificate_path: str, key_path: str) -> ssl.SSLContext:
    """A TLS server context; fails saying what to fix when the files do not make a pair."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certificate_path, key_path)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(
            f"Could not load the certificate {certificate_path!r} with the key {key_path!r} "
            f"({error}). Expected PEM files of one certificate and its private key; or leave out "
            "--certfile/--keyfile for a self-signed one."
        ) from error
    return context


def phone_urls(scheme: str, host: str, port: int) -> list[str]:
    """Every URL a phone on the network can open the page at (none for a loopback host)."""
    if host in ("", "0.0.0.0", "::"):
        return [f"{scheme}://{address}:{port}/" for address in network_addresses()] + [
            f"{scheme}://{name}:{port}/" for name in certificate_names()[0][1:]
        ]
    if host == "localhost" or host.startswith("127."):
        return []
    return [f"{scheme}://{host}:{port}/"]


def phone_instructions(urls: list[str], secure: bool) -> str:
    """What to print for a phone: the URLs, a QR code of the first, what the browser will ask."""
    if not urls:
        return (
            "A phone cannot reach this address: pass --host=0.0.0.0 (with --https, which the "
            "camera needs) to serve the page on the network."
        )
    lines = ["On a phone on the same network, open " + " or ".join(urls)]
    segno = _web_dependency("segno")
    qr_code = segno.make(urls[0], error="m")
    lines.append(f"or scan this QR code of {urls[0]}:")
    terminal = io.StringIO()
    qr_code.terminal(out=terminal, compact=True)
    lines.append(terminal.getvalue())
    lines.append(
        WARNING
        if secure
        else "Over plain HTTP the phone's browser will not give the page its camera (only video "
        "files work there): restart with --https."
    )
    return "\n".join(lines)
