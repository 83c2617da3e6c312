"""Database URLs: what parses and what it means, what is refused and why, and that no secret
in a URL ever reaches what seeder shows (a parsed URL, raw text, or an error message)."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy.engine import URL, make_url

from seeder.backends import backend_for_url
from seeder.errors import DatabaseURLError
from seeder.urls import bool_option, display_url, float_option, int_option, parse_database_url

# --- secrets -----------------------------------------------------------------------------------

# Each URL with the fragments of secret text in it; every fragment must stay hidden, whether the
# URL parses or is refused.
SECRETS = [
    ("postgresql://bob:Zq9Kx7@db.example/shop", ["Zq9Kx7"]),
    ("postgresql+psycopg://bob:Zq9Kx7@db.example:5432/shop", ["Zq9Kx7"]),
    ("postgresql://:Zq9Kx7@db.example/shop", ["Zq9Kx7"]),  # no user name
    ("postgres://bob:Zq9Kx7@[::1]:5432/shop", ["Zq9Kx7"]),
    ("mysql://root:Zq9Kx7@127.0.0.1/shop?passwd=Wv3Jn5", ["Zq9Kx7", "Wv3Jn5"]),
    # percent-encoded characters, and the same characters unencoded
    ("postgresql://bob:Zq9%40%3A%2F%3F%23%25Kx7@db.example/shop", ["Zq9", "Kx7"]),
    ("postgresql://bob:Zq9@Kx7@db.example/shop", ["Zq9", "Kx7"]),
    ("postgresql://bob:Zq9@Kx7:Wv3@db.example/shop", ["Zq9", "Kx7", "Wv3"]),
    ("postgresql://bob:Zq9@Kx7/Wv3@db.example/shop", ["Zq9", "Kx7", "Wv3"]),
    ("postgresql://bob:Zq9@Kx7?Wv3=Jn5@db.example/shop", ["Zq9", "Kx7", "Wv3", "Jn5"]),
    ("postgresql://bob:Zq9:Kx7@db.example/shop", ["Zq9", "Kx7"]),
    ("postgresql://bob:Zq9/Kx7@db.example/shop", ["Zq9", "Kx7"]),
    ("postgresql://bob:Zq9?Kx7#Wv3@db.example/shop", ["Zq9", "Kx7", "Wv3"]),
    ("postgresql://bob/Zq9:Kx7@db.example/shop", ["Kx7"]),  # / in the user name
    ("postgresql://bob:Zq9Kx7/shop", ["Zq9Kx7"]),  # the host forgotten: the password looks
    ("postgresql://bob:Zq9Kx7@db.example:abc/shop", ["Zq9Kx7"]),  # like a port
    ("bob:Zq9Kx7@db.example/shop", ["Zq9Kx7"]),  # no scheme
    # query options, in any case, repeated, on SQLite too
    ("postgresql://db.example/shop?password=Zq9Kx7", ["Zq9Kx7"]),
    ("postgresql://db.example/shop?sslmode=require&sslpassword=Zq9Kx7", ["Zq9Kx7"]),
    ("postgresql://db.example/shop?PassWord=Zq9&PASSWD=Kx7&Pwd=Wv3", ["Zq9", "Kx7", "Wv3"]),
    ("postgresql://db.example/shop?password=Zq9&password=Kx7", ["Zq9", "Kx7"]),
    ("postgresql://db.example/shop?api_key=Zq9&Token=Kx7&client_secret=Wv3&AccessKey=Jn5",
     ["Zq9", "Kx7", "Wv3", "Jn5"]),
    ("postgresql://db.example/shop?password=Zq9%26Kx7+Wv3", ["Zq9", "Kx7", "Wv3"]),
    ("postgresql://db.example/shop?password=Zq9@Kx7", ["Zq9", "Kx7"]),
    ("sqlite:///shop.db?password=Zq9Kx7", ["Zq9Kx7"]),
    ("sqlite:///shop.db?mode=ro&Secret=Zq9Kx7&uri=true", ["Zq9Kx7"]),
    # unicode
    ("postgresql://bob:Zq9ä€Kx7@db.example/shop", ["Zq9", "ä€", "Kx7"]),
    ("postgresql://bob:Zq9%C3%A4Kx7@db.example/shop", ["Zq9", "ä", "Kx7"]),
    ("postgresql://db.example/shop?password=Zq9ü", ["Zq9", "ü"]),
    # refused for a control character, raw or percent-encoded
    ("postgresql://bob:Zq9%00Kx7@db.example/shop", ["Zq9", "Kx7"]),
    ("postgresql://bob:Zq9\tKx7@db.example/shop", ["Zq9", "Kx7"]),
    ("postgresql://db.example/shop\n?password=Zq9Kx7", ["Zq9Kx7"]),
    ("postgresql://db.example/shop?password=Zq9%0AKx7", ["Zq9", "Kx7"]),
    # refused for another reason
    ("postgresql://bob:Zq9Kx7@db.example", ["Zq9Kx7"]),  # no database name
    ("postgresql://bob:Zq9Kx7@db.example:0/shop", ["Zq9Kx7"]),
]


def _shown(text: str) -> list[str]:
    """Everything seeder may show for `text`: the URL it parses to, or the error it gets; and
    the raw text's display."""
    try:
        outcome = display_url(parse_database_url(text))
    except DatabaseURLError as error:
        outcome = str(error)
    return [outcome, display_url(text)]


@pytest.mark.parametrize(("text", "secrets"), SECRETS)
def test_secret_never_shown(text: str, secrets: list[str]) -> None:
    for shown in _shown(text):
        for secret in secrets:
            for form in {secret, quote(secret), quote_plus(secret)}:
                assert form not in shown, shown
        assert "***" in shown  # hidden, not dropped
        assert "psycopg" not in shown
        assert shown.isprintable(), shown


# Where a secret can sit, and what it may contain: each place gets "Zq9" + one of the characters
# + "Kx7". (Not "&name=": by URL rules that starts another option, which is shown.)
SECRET_PLACES = [
    "postgresql://bob:{}@db.example:5432/shop?sslmode=require",
    "postgresql+psycopg://:{}@[::1]/shop",
    "postgresql://bob:{}@db.example:54x/shop",
    "postgresql://bob:{}@db.example/shop\n",
    "postgresql://bob:{}/shop",
    "postgresql://db.example/shop?password={}&sslmode=require",
    "postgresql://db.example/shop?application_name=me&SSLPassword={}",
    "postgresql://db.example/shop%00?token={}",
    "mysql://db.example/shop?passwd={}",
    "sqlite:///shop@home.db?mode=ro&password={}",
    "bob:{}@db.example/shop",
]
SECRET_CHARACTERS = ["@", ":", "/", "?", "#", "&", "=", "%", "+", " ", ";", "[", "]", "%40", "%25",
                     "%00", "\n", "\t", "ä", "€", "\u202e", "@@", "?a=", "&password="]


@pytest.mark.parametrize("place", SECRET_PLACES)
def test_secret_with_any_character_never_shown(place: str) -> None:
    for character in SECRET_CHARACTERS:
        if "@" in character and place.startswith("postgresql://bob:{}/"):
            continue  # indistinguishable from a host: postgresql://bob:Zq9@Kx7/shop
        text = place.format(f"Zq9{character}Kx7")
        for shown in _shown(text):
            assert "Zq9" not in shown and "Kx7" not in shown, (text, shown)
            assert shown.isprintable(), (text, shown)


def test_secret_hidden_in_url_objects() -> None:
    url = URL.create("postgresql+psycopg", username="bob", password="Zq9Kx7", host="db.example",
                     database="shop", query={"sslpassword": "Wv3Jn5", "sslmode": "require"})
    assert display_url(url) == (
        "postgresql://bob:***@db.example/shop?sslpassword=***&sslmode=require"
    )


# --- what a URL means and how it is shown --------------------------------------------------------


@pytest.mark.parametrize(("text", "parts"), [
    ("postgresql://bob:p%40ss%3Aw%2Frd@db.example:5433/shop",
     ("bob", "p@ss:w/rd", "db.example", 5433, "shop")),
    ("postgresql://bob:pa/ss?w#rd@db.example/shop",
     ("bob", "pa/ss?w#rd", "db.example", None, "shop")),
    ("postgresql://bob:pä€ss@[::1]/shop", ("bob", "pä€ss", "::1", None, "shop")),
    ("postgresql:///shop", (None, None, None, None, "shop")),  # the local socket
    ("sqlite:///data/shop@2024.db", (None, None, None, None, "data/shop@2024.db")),
    ("sqlite://", (None, None, None, None, None)),  # in memory
])
def test_parts(text: str, parts: tuple) -> None:
    url = parse_database_url(text)
    assert (url.username, url.password, url.host, url.port, url.database) == parts


@pytest.mark.parametrize(("text", "shown"), [
    ("postgresql+psycopg://bob:pw@db.example:5433/shop?sslmode=require&password=pw",
     "postgresql://bob:***@db.example:5433/shop?sslmode=require&password=***"),
    ("postgresql://db.example/shop?application_name=me%40home",
     "postgresql://db.example/shop?application_name=me%40home"),
    ("postgresql://db.example/shop?target_session_attrs=any&target_session_attrs=primary",
     "postgresql://db.example/shop?target_session_attrs=any&target_session_attrs=primary"),
    ("sqlite:////var/lib/shop.db?timeout=10", "sqlite:////var/lib/shop.db?timeout=10"),
])
def test_display(text: str, shown: str) -> None:
    assert display_url(parse_database_url(text)) == shown
    assert display_url(text) == shown


@pytest.mark.parametrize(("text", "shown"), [
    ("postgresql://bob:p@ss@db.example:5432/shop?sslmode=require&pwd=x",
     "postgresql://bob:***@db.example:5432/shop?sslmode=require&pwd=***"),
    ("postgresql://bob@db.example:54x2/shop?sslmode=require", "postgresql://bob@db.example:***"),
    ("postgresql://db.example/shop?password=Zq9@Kx7&sslmode=require",
     "postgresql://db.example:***@***&sslmode=require"),
    ("postgresql://[::1]:5432/shop\x00", "postgresql://[::1]:5432/shop%00"),
    ("postgresql://db.example/\u202eshop", "postgresql://db.example/%E2%80%AEshop"),
    ("mysql+pymysql://root@127.0.0.1/shop", "mysql://root@127.0.0.1/shop"),
])
def test_display_of_raw_text(text: str, shown: str) -> None:
    assert display_url(text) == shown


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("shop.db", "cannot parse the database URL 'shop.db'; write it as sqlite:///PATH or "
     "BACKEND://USER:PASSWORD@HOST:PORT/DATABASE, with special characters in the user name and "
     "password percent-encoded (@ as %40, : as %3A, / as %2F, % as %25)"),
    ("postgresql://bob:p@ss@db.example/shop", "the database URL postgresql://bob:***@db.example/"
     "shop has an @ other than the one before the host; percent-encode @ as %40 (and : as %3A, / "
     "as %2F in the user name and password)"),
    ("postgresql://db.example/sh@p", "the database URL postgresql://db.example:***@p has an @ "
     "other than the one before the host; percent-encode @ as %40 (and : as %3A, / as %2F in "
     "the user name and password)"),
    ("postgresql://bob@db.example:abc/shop", "the database URL postgresql://bob@db.example:*** "
     "has a port that is not a number; use a port from 1 to 65535, or percent-encode : and "
     "/ in the password"),
    ("postgresql://db.example:0/shop",
     "the database URL postgresql://db.example:0/shop has port 0; use a port from 1 to 65535"),
    ("postgresql://db.example:65536/shop",
     "the database URL postgresql://db.example:65536/shop has port 65536; use a port from 1 to "
     "65535"),
    ("postgresql://bob@127.0.0.1:5433/shop\x00", "the database URL postgresql://bob@127.0.0.1:"
     "5433/shop%00 contains a control character (such as a newline, tab or NUL); remove it"),
    ("postgresql://bob@db.example/shop?sslmode=require\nhost=other", "the database URL "
     "postgresql://bob@db.example/shop?sslmode=require%0Ahost=other contains a control "
     "character (such as a newline, tab or NUL); remove it"),
    ("postgresql://bob@127.0.0.1:5433/shop%00x", "the database URL postgresql://bob@127.0.0.1:"
     "5433/shop%00x has a control character in its database name (percent-encoded, such as "
     "%00); remove it"),
    ("postgresql://b%0Ab@db.example/shop", "the database URL postgresql://b%0Ab@db.example/"
     "shop has a control character in its user name (percent-encoded, such as %00); remove it"),
    ("postgresql://bob:p%7Fw@db.example/shop", "the database URL postgresql://bob:***@"
     "db.example/shop has a control character in its password (percent-encoded, such as %00); "
     "remove it"),
    ("postgresql://db%00.example/shop", "the database URL postgresql://db%00.example/shop has "
     "a control character in its host (percent-encoded, such as %00); remove it"),
    ("sqlite:///shop.db?mode=ro%00", "the database URL sqlite:///shop.db?mode=ro%00 has a "
     "control character in its options (percent-encoded, such as %00); remove it"),
    ("sqlite:///sh%E2%80%AEop.db", "the database URL sqlite:///sh%E2%80%AEop.db has a control "
     "character in its database name (percent-encoded, such as %00); remove it"),
])
def test_refused(text: str, message: str) -> None:
    with pytest.raises(DatabaseURLError) as caught:
        parse_database_url(text)
    assert str(caught.value) == message


@pytest.mark.parametrize("text", ["postgresql://bob@db.example", "postgres://bob@db.example/"])
def test_server_urls_must_name_their_database(text: str) -> None:
    url = parse_database_url(text)
    with pytest.raises(DatabaseURLError) as caught:
        backend_for_url(url).driver_url(url)
    assert str(caught.value) == (f"the database URL {text} names no database; add it, as in "
                                 f"{text.rstrip('/')}/DATABASE")


def test_url_objects_are_checked_too() -> None:
    with pytest.raises(DatabaseURLError, match="control character in its database name"):
        parse_database_url(URL.create("sqlite", database="shop\x00.db"))


# --- options for backends ----------------------------------------------------------------------


def _url(query: str) -> URL:
    return make_url(f"sqlite:///shop.db?{query}")


def test_options_read() -> None:
    url = _url("timeout=2.5&connect_timeout=10&check_same_thread=No")
    assert float_option(url, "timeout", 0, 3600) == 2.5
    assert int_option(url, "connect_timeout", 1, 3600) == 10
    assert bool_option(url, "check_same_thread") is False
    assert int_option(url, "port", 1, 65535) is None


@pytest.mark.parametrize(("read", "query", "message"), [
    (lambda url: int_option(url, "port", 1, 65535), "port=abc",
     "the database URL option port=abc is not a whole number from 1 to 65535; fix or remove it"),
    (lambda url: int_option(url, "port", 1, 65535), "port=70000",
     "the database URL option port=70000 is not a whole number from 1 to 65535; fix or remove it"),
    (lambda url: float_option(url, "timeout", 0, 3600), "timeout=abc",
     "the database URL option timeout=abc is not a number from 0 to 3600; fix or remove it"),
    (lambda url: float_option(url, "timeout", 0, 3600), "timeout=nan",
     "the database URL option timeout=nan is not a number from 0 to 3600; fix or remove it"),
    (lambda url: float_option(url, "timeout", 0, 3600), "timeout=inf",
     "the database URL option timeout=inf is not a number from 0 to 3600; fix or remove it"),
    (lambda url: bool_option(url, "check_same_thread"), "check_same_thread=maybe",
     "the database URL option check_same_thread=maybe is not true or false; fix or remove it"),
    (lambda url: int_option(url, "timeout", 1, 60), "timeout=1&timeout=2",
     "the database URL gives option timeout 2 times; keep one"),
    (lambda url: int_option(url, "auth_timeout", 1, 60), "auth_timeout=Zq9",
     "the database URL option auth_timeout=*** is not a whole number from 1 to 60; fix or "
     "remove it"),
])
def test_bad_options(read, query: str, message: str) -> None:
    with pytest.raises(DatabaseURLError) as caught:
        read(_url(query))
    assert str(caught.value) == message
