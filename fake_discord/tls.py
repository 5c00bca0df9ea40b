"""A throwaway CA and server certificate for the voice gateway (discord.py always uses wss)."""

from __future__ import annotations

import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass
class TlsMaterial:
    """The server's SSL context and the CA bundle a client must trust."""

    server_context: ssl.SSLContext
    ca_file: Path
    _directory: Path

    def cleanup(self) -> None:
        """Delete the temporary CA file."""
        shutil.rmtree(self._directory, ignore_errors=True)


def make_tls(host: str) -> TlsMaterial:
    """Create a CA, a certificate for ``host`` (and localhost), and write the CA PEM to a file.

    Blocking (key generation): call it in a thread.
    """
    ca = trustme.CA(organization_name="fake-discord test CA")
    names = [host] if host == "localhost" else [host, "localhost"]
    certificate = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    directory = Path(tempfile.mkdtemp(prefix="fake-discord-"))
    ca_file = directory / "fake-discord-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return TlsMaterial(context, ca_file, directory)


def client_context(ca_file: str | Path) -> ssl.SSLContext:
    """An SSL context that trusts only the fake's CA."""
    return ssl.create_default_context(cafile=str(ca_file))
