"""Signature configurations and client-side rendering."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any, Union

from sigsync import _sigsync

__all__ = ["Signatures", "Rendering", "render"]

ConfigSource = Union[str, "os.PathLike[str]", Mapping[str, Any]]
"""A signature configuration: a path to a TOML or JSON file, or the configuration as a dict."""


def _native_signatures(config: ConfigSource) -> Any:
    if isinstance(config, Mapping):
        return _sigsync.Signatures(json=json.dumps(dict(config)))
    if isinstance(config, (str, os.PathLike)):
        return _sigsync.Signatures(path=os.fspath(config))
    raise TypeError(f"a configuration is a path or a dict, not {type(config).__name__}")


@dataclasses.dataclass(frozen=True)
class Rendering:
    """A signature rendered for one sender and one message, or why there is none."""

    html: str
    """The HTML block (escaped, wrapped in an element marking who inserted it)."""
    text: str
    """The plain-text block (starting with the invisible marker)."""
    disclaimer_html: str | None = None
    """The HTML disclaimer for the very bottom, if any."""
    disclaimer_text: str | None = None
    """The plain-text disclaimer for the very bottom, if any."""
    reason: str | None = None
    """Why there is no signature (``None`` when there is one)."""

    @property
    def signed(self) -> bool:
        """Whether the policy chose a signature."""
        return self.reason is None

    @classmethod
    def _from_native(cls, result: Any) -> Rendering:
        sig, reason = result
        if sig is None:
            return cls("", "", None, None, reason)
        html, text, dhtml, dtext = sig
        return cls(html, text, dhtml, dtext, None)


class Signatures:
    """Compiled signature templates, policy and directory, from one configuration (a TOML
    or JSON file path, or a dict of the same structure).

    Raises:
        ConfigError, ValidationError: naming what is wrong in the configuration.
    """

    def __init__(self, config: ConfigSource) -> None:
        self._native = _native_signatures(config)

    @classmethod
    def from_toml(cls, text: str) -> Signatures:
        """A configuration given as TOML text."""
        obj = cls.__new__(cls)
        obj._native = _sigsync.Signatures(toml=text)
        return obj

    @property
    def accepted_domains(self) -> list[str]:
        """The accepted domains (recipients there are internal)."""
        return list(self._native.accepted_domains)

    @property
    def loop_header(self) -> tuple[str, str]:
        """The loop-prevention header as ``(name, value)``."""
        name, value = self._native.loop_header
        return (name, value)

    def render(
        self,
        *,
        user: Mapping[str, Any] | None = None,
        sender: str | None = None,
        recipients: Iterable[str] = (),
        reply: bool = False,
    ) -> Rendering:
        """Client-side mode: the signature for a compose window, carrying the client marker
        (so the server-side injector does not sign the message again).

        Args:
            user: The sender's attributes by Graph name (``displayName``, ``jobTitle``,
                ``mail``, ``custom``: {...}); without it the configured directory's are used.
            sender: The sender's address (default: ``user["mail"]``).
            recipients: The recipients so far (internal or external decides some rules).
            reply: Whether the message is a reply or forward.
        """
        return Rendering._from_native(
            self._native.render(sender=sender, recipients=list(recipients), reply=reply, user=user)
        )

    def __repr__(self) -> str:
        return repr(self._native)


def render(
    config: ConfigSource | Signatures,
    *,
    user: Mapping[str, Any] | None = None,
    sender: str | None = None,
    recipients: Iterable[str] = (),
    reply: bool = False,
) -> Rendering:
    """Client-side mode in one call: :meth:`Signatures.render` with a configuration (build a
    :class:`Signatures` once to render many times)."""
    sigs = config if isinstance(config, Signatures) else Signatures(config)
    return sigs.render(user=user, sender=sender, recipients=recipients, reply=reply)
