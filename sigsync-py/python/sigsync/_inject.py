"""The MIME injector: signatures into messages, server-side."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from sigsync import _sigsync
from sigsync._signature import ConfigSource, Rendering

__all__ = ["Injector", "Outcome"]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The result of one injection. Whatever happened, :attr:`message` is the message to
    send on, and it carries the loop-prevention header."""

    label: str
    """``"injected"``, ``"skipped"`` or ``"failed"``."""
    reason: str | None
    """Why nothing was inserted (a skip reason or the error); ``None`` when injected."""
    message: bytes
    """The message to send on: signed, or the original bytes plus the loop header."""

    @property
    def injected(self) -> bool:
        """Whether the signature was inserted."""
        return self.label == "injected"

    @property
    def skipped(self) -> bool:
        """Whether the message was passed through for a reason that is not an error
        (signed or encrypted mail, calendar, reports, auto-replies, already processed,
        the policy chose no signature)."""
        return self.label == "skipped"

    @property
    def failed(self) -> bool:
        """Whether the message was passed through because of an error (alert on these)."""
        return self.label == "failed"

    def __repr__(self) -> str:
        return f"Outcome({self.label!r}, reason={self.reason!r}, message=<{len(self.message)} bytes>)"


class Injector:
    """Puts the right signature into MIME messages: chooses it with the configured policy
    and directory, inserts it into the HTML and plain-text bodies (above quoted history),
    and stamps the loop header. It never raises for a bad message: the message passes
    through with the reason.

    One injector is reusable and thread-safe; :meth:`inject` releases the GIL, so a thread
    pool scales across cores.

    Args:
        config: A TOML or JSON configuration file, or the configuration as a dict.

    Raises:
        ConfigError, ValidationError: naming what is wrong in the configuration.
    """

    def __init__(self, config: ConfigSource) -> None:
        if isinstance(config, Mapping):
            self._native = _sigsync.Injector(json=json.dumps(dict(config)))
        elif isinstance(config, (str, os.PathLike)):
            self._native = _sigsync.Injector(path=os.fspath(config))
        else:
            raise TypeError(f"a configuration is a path or a dict, not {type(config).__name__}")

    @classmethod
    def from_toml(cls, text: str) -> Injector:
        """An injector from TOML text."""
        obj = cls.__new__(cls)
        obj._native = _sigsync.Injector(toml=text)
        return obj

    @property
    def loop_header(self) -> tuple[str, str]:
        """The loop-prevention header stamped on every message, as ``(name, value)``."""
        name, value = self._native.loop_header
        return (name, value)

    def inject(
        self,
        message: bytes | bytearray | memoryview,
        *,
        sender: str | None = None,
        recipients: Iterable[str] | None = None,
        user: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Injects the signature the policy chooses for this message.

        A policy that cannot decide (a Graph directory, which must be asked asynchronously)
        is a failure with its reason, not an exception.

        Args:
            message: The raw MIME message. ``bytes`` are read in place, without a copy; a
                ``bytearray`` or ``memoryview`` is copied once first.
            sender: The envelope sender (MAIL FROM). Give it with ``recipients`` (the SMTP
                envelope); without both, the From, To and Cc headers are used.
            recipients: The envelope recipients (RCPT TO, Bcc included).
            user: The sender's attributes by Graph name, overriding the directory's. A
                ``groups`` list gives the sender's groups for group-scoped rules (else the
                configured directory answers). A malformed mapping is bad input for this
                message: the outcome is ``failed`` and the message passes through.

        Raises:
            ValidationError: when only one of ``sender`` and ``recipients`` is given (a
                programming error, not a bad message).
        """
        if not isinstance(message, (bytes, bytearray, memoryview)):
            raise TypeError(f"message must be bytes, not {type(message).__name__}")
        label, reason, out = self._native.inject(
            bytes(message),
            sender=sender,
            recipients=None if recipients is None else list(recipients),
            user=user,
        )
        return Outcome(label, reason, out)

    def render(
        self,
        *,
        user: Mapping[str, Any] | None = None,
        sender: str | None = None,
        recipients: Iterable[str] = (),
        reply: bool = False,
    ) -> Rendering:
        """Client-side mode: the signature for a compose window (see :meth:`Signatures.render`)."""
        return Rendering._from_native(
            self._native.render(sender=sender, recipients=list(recipients), reply=reply, user=user)
        )

    def __repr__(self) -> str:
        return repr(self._native)
