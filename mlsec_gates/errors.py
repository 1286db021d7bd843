"""The exceptions a gate raises when it cannot run at all.

A gate that ran returns a :class:`~mlsec_gates.result.GateResult`, pass or fail. These errors
are for the cases where there is nothing to decide on: the policy is invalid, a path does not
exist, the storage refuses access. Every message is one line that names the problem, so the
CLI can print it as is and exit 2.
"""

from __future__ import annotations


class Error(Exception):
    """Base of every mlsec-gates error."""

    def diagnostics(self) -> str:
        """The one-line message for a person."""
        return str(self)


class ConfigError(Error):
    """The policy or an option is invalid; retrying will not help."""


class InputError(Error):
    """An input cannot be found or read (missing path, empty key, unreadable file)."""


class StorageError(Error):
    """The storage backend failed (credentials, network, permissions)."""


class VerificationError(Error):
    """A signature, envelope or signed statement does not verify (library calls only).

    The verify gate turns this into findings; it reaches callers of the signing library
    functions such as :func:`mlsec_gates.signing.dsse.verify_envelope`.
    """
