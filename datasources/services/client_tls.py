"""The TLS context of a datasource with a client certificate (mTLS, SPEC 12): the operator's trust (CONNECT_CA_BUNDLE
or the operating system's store, as for every call) plus the datasource's certificate chain and private key.

Python's ssl module loads a certificate and key only from a file path (SSLContext.load_cert_chain), and requests
would want files too. The decrypted key is therefore handed to OpenSSL through an anonymous in-memory file
(os.memfd_create, Linux): it has no name in any directory, lives in memory only and is gone when closed, which is
right after load_cert_chain has read it. Where memfd_create does not exist, a temporary file is made with 0600
permissions in a private 0700 directory and deleted as soon as the key is loaded (microseconds later, in a
`finally`). Either way no decrypted key is left on disk after use: the context holds the loaded key in OpenSSL's
memory for the life of the datasource's pooled session (sessions.py), and is built again when the configuration
changes. The context is built once per session, not per call.
"""

import os
import shutil
import ssl
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field

from .errors import TLSFailure


@dataclass(frozen=True)
class ClientCertificate:
    certificate_pem: str
    key_pem: str = field(repr=False)
    passphrase: str = field(default="", repr=False)


def context_with_certificate(base: ssl.SSLContext, ca_bundle: str, certificate: ClientCertificate) -> ssl.SSLContext:
    """A new context verifying servers as `base` does (the same CA bundle), presenting `certificate`."""
    context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    context.minimum_version = base.minimum_version
    pem = certificate.certificate_pem.strip() + "\n" + certificate.key_pem.strip() + "\n"
    try:
        with _private_pem_file(pem.encode()) as path:
            context.load_cert_chain(path, password=certificate.passphrase or None)
    except (ssl.SSLError, OSError, ValueError):
        # Checked at save (client_certificates.py); reached only when the stored values no longer load.
        raise TLSFailure(
            "The datasource's client certificate or private key could not be loaded: save them again on the "
            "datasource's edit page."
        ) from None
    return context


@contextmanager
def _private_pem_file(data: bytes):
    """A path OpenSSL can read `data` from, for the duration of the block only (see the module docstring)."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("connect-client-key", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    directory = tempfile.mkdtemp(prefix="connect-mtls-")  # 0700
    try:
        fd, path = tempfile.mkstemp(dir=directory, suffix=".pem")  # 0600
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
