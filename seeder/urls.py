"""Database URLs: parsed strictly, and shown without any credential in them.

A URL that parses here means what it says: no control characters that a driver would cut the
connection string at, no `@` that leaves part of a password in the host or database name, a
real port, and for a database server an explicit database name. Every URL seeder shows goes
through `display_url`, which hides the password, credential-like query options and anything
that cannot be told apart from a password. Backends check their own query options with
`int_option`, `float_option` and `bool_option`.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from urllib.parse import quote_plus, unquote, unquote_plus

from sqlalchemy.engine import URL, make_url

from seeder.errors import DatabaseURLError

_HIDDEN = "***"
# Query options whose name contains one of these (in any case) may carry a credential.
_CREDENTIAL_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "cred", "sig", "dsn",
                     "conninfo")
# Control, format (bidi overrides, zero-width), surrogate and line/paragraph separator
# characters: drivers cut C strings at NUL, and the others make what is shown differ from
# what is used, or break a one-line message.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# The scheme as SQLAlchemy reads it: BACKEND[+DRIVER]://
_SCHEME = re.compile(r"([\w+]+)://")
# The same booleans SQLAlchemy accepts for options such as check_same_thread.
_TRUE = frozenset({"true", "yes", "on", "y", "t", "1"})
_FALSE = frozenset({"false", "no", "off", "n", "f", "0"})
_HOW_TO_WRITE = (
    "write it as sqlite:///PATH or BACKEND://USER:PASSWORD@HOST:PORT/DATABASE, with special "
    "characters in the user name and password percent-encoded (@ as %40, : as %3A, / as %2F, "
    "% as %25)"
)


def parse_database_url(url: str | URL) -> URL:
    """`url` as a SQLAlchemy URL, checked; a `DatabaseURLError` says what to fix."""
    if isinstance(url, str):
        url = _parse_text(url)
    for part, value in _decoded_parts(url):
        if _has_invisible(value):
            raise DatabaseURLError(
                f"the database URL {display_url(url)} has a control character in its {part} "
                "(percent-encoded, such as %00); remove it"
            )
    if url.port is not None and not 1 <= url.port <= 65535:
        raise DatabaseURLError(
            f"the database URL {display_url(url)} has port {url.port}; use a port from 1 to 65535"
        )
    return url


def _parse_text(text: str) -> URL:
    if _has_invisible(text):
        raise DatabaseURLError(
            f"the database URL {display_url(text)} contains a control character (such as a "
            "newline, tab or NUL); remove it"
        )
    scheme = _SCHEME.match(text)
    if not scheme:
        raise DatabaseURLError(f"cannot parse the database URL {display_url(text)!r}; "
                               f"{_HOW_TO_WRITE}")
    # make_url ends a password at its first @, and a user name at its first /, and puts the
    # rest in the host, port or database name, where it is shown; such URLs are refused
    # rather than guessed at. URLs with a host only (not sqlite:///PATH): a file path may well
    # contain an @.
    on_server = not text[scheme.end():].startswith("/")
    if on_server and text.count("@") > 1:
        raise DatabaseURLError(_misplaced_at(text))
    try:
        url = make_url(text)
    except ValueError:  # the only value make_url converts is the port
        raise DatabaseURLError(
            f"the database URL {display_url(text)} has a port that is not a number; use a port "
            "from 1 to 65535, or percent-encode : and / in the password"
        ) from None
    # Without a user name, nothing before the first ? (host, port, database) may hold an @.
    if on_server and url.username is None and "@" in text.partition("?")[0]:
        raise DatabaseURLError(_misplaced_at(text))
    return url


def _misplaced_at(text: str) -> str:
    return (f"the database URL {display_url(text)} has an @ other than the one before the "
            "host; percent-encode @ as %40 (and : as %3A, / as %2F in the "
            "user name and password)")


def _decoded_parts(url: URL) -> list[tuple[str, str]]:
    # SQLAlchemy decodes all but the host, which a driver may decode itself.
    host = unquote(url.host) if url.host is not None else None
    parts = [("user name", url.username), ("password", url.password), ("host", host),
             ("database name", url.database)]
    for key, values in url.normalized_query.items():
        parts += [("options", key)] + [("options", value) for value in values]
    return [(part, value) for part, value in parts if value is not None]


def display_url(url: URL | str) -> str:
    """`url` as users write it, without driver name, password or credential-like options.

    Raw text (one that did not parse) is shown with whatever might be a secret hidden, given
    that a password may hold @ : / ? and an option's value may hold @.
    """
    if isinstance(url, str):
        return _escape_invisible(_display_text(url))
    shown = url.set(drivername=url.get_backend_name(), query={}).render_as_string(
        hide_password=True
    )
    options = [
        f"{quote_plus(key)}={_HIDDEN if _is_credential(key) else quote_plus(value)}"
        for key, values in url.normalized_query.items()
        for value in values
    ]
    return _escape_invisible(shown + ("?" + "&".join(options) if options else ""))


def _display_text(text: str) -> str:
    scheme = _SCHEME.match(text)
    shown = scheme[1].partition("+")[0] + "://" if scheme else ""
    rest = text[scheme.end():] if scheme else text
    # The last @ ends the user name and password, if any: keep the user name only.
    userinfo, at, rest = rest.rpartition("@")
    if at:
        user = re.match(r"[^:/?]*", userinfo)[0]
        shown += user + (":" + _HIDDEN if user != userinfo else "") + "@"
        if "?" in userinfo:  # the @ may be inside an option's value, which ends at the next &
            _value, ampersand, options = rest.partition("&")
            return shown + _HIDDEN + (ampersand + _display_options(options) if ampersand else "")
    location, question, options = rest.partition("?")
    host_port, slash, path = location.partition("/")
    host, port = re.fullmatch(r"(\[[^\]]*\]|[^:]*)(?::(.*))?", host_port, re.DOTALL).groups()
    if port is not None and not port.isdecimal():
        # postgresql://user:password/db, host forgotten: what follows the : may be a password.
        return f"{shown}{host}:{_HIDDEN}"
    shown += host + (f":{port}" if port is not None else "") + slash + path
    return shown + (question + _display_options(options) if question else "")


def _display_options(options: str) -> str:
    """Raw `key=value&...` options with the values of credential-like keys hidden, and any
    text without `=` (the rest of a value with an unencoded &) hidden too."""
    pairs = [pair.partition("=") for pair in options.split("&")]
    return "&".join(
        _HIDDEN if not equals
        else f"{key}={_HIDDEN}" if _is_credential(unquote_plus(key))
        else key + equals + value
        for key, equals, value in pairs
    )


def _is_credential(option: str) -> bool:
    folded = option.casefold()
    return any(word in folded for word in _CREDENTIAL_WORDS)


def _has_invisible(text: str) -> bool:
    return any(unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in text)


def _escape_invisible(text: str) -> str:
    """`text` with invisible characters percent-encoded, so that it prints as one clear line."""
    return "".join(
        "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES else char
        for char in text
    )


def int_option(url: URL, name: str, low: int, high: int) -> int | None:
    """The query option `name` as a whole number from low to high, or None if it is absent."""
    text = _option_text(url, name)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise DatabaseURLError(f"the database URL option {_display_pair(name, text)} is not a "
                               f"whole number from {low} to {high}; fix or remove it")
    return value


def float_option(url: URL, name: str, low: float, high: float) -> float | None:
    """The query option `name` as a number from low to high, or None if it is absent."""
    text = _option_text(url, name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # also false for nan
        raise DatabaseURLError(f"the database URL option {_display_pair(name, text)} is not a "
                               f"number from {low:g} to {high:g}; fix or remove it")
    return value


def bool_option(url: URL, name: str) -> bool | None:
    """The query option `name` as true or false, or None if it is absent."""
    text = _option_text(url, name)
    if text is None:
        return None
    word = text.strip().lower()
    if word not in _TRUE | _FALSE:
        raise DatabaseURLError(f"the database URL option {_display_pair(name, text)} is not "
                               "true or false; fix or remove it")
    return word in _TRUE


def _option_text(url: URL, name: str) -> str | None:
    values = url.normalized_query.get(name, ())
    if len(values) > 1:
        raise DatabaseURLError(f"the database URL gives option {name} {len(values)} times; "
                               "keep one")
    return values[0] if values else None


def _display_pair(name: str, value: str) -> str:
    return f"{name}={_HIDDEN if _is_credential(name) else _escape_invisible(value)}"


DEFAULT_DATABASE_URL = "sqlite:///seeder.db"
DATABASE_URL_ENV = "SEEDER_DATABASE_URL"


def database_url(option: str | None) -> str:
    """The URL given (--database-url), else $SEEDER_DATABASE_URL, else the default SQLite file."""
    return option or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
