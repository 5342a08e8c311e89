"""Read the ``XSESSION`` setting into one frozen :class:`Options` object.

Reading never raises: every problem is collected as a :class:`Problem` and
reported by the system checks in :mod:`django_xsession.checks`. Only a
request served with an invalid configuration raises ``ImproperlyConfigured``.
"""

from __future__ import annotations

import datetime
import inspect
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import Morsel
from importlib import import_module
from typing import TYPE_CHECKING, Any, Literal, TypeGuard
from urllib.parse import parse_qs, quote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from django_xsession.stores.base import Store

STORE_ALIASES = {
    "memory": "django_xsession.stores.memory.MemoryStore",
    "db": "django_xsession.stores.db.DatabaseStore",
    "cached_db": "django_xsession.stores.cached_db.CachedDatabaseStore",
    "cache": "django_xsession.stores.cache.CacheStore",
    "redis": "django_xsession.stores.redis.RedisStore",
}
DEFAULT_STORE = "db"

KNOWN_KEYS = frozenset(
    {
        "STORE",
        "NAME",
        "SECRETS",
        "MAX_AGE",
        "EXPIRES",
        "ROLLING",
        "RESAVE",
        "SAVE_UNINITIALIZED",
        "UNSET",
        "PROXY",
        "GENID",
        "COOKIE",
        "ON_STORE_ERROR",
        "LEGACY_CONTRIB",
        "LEGACY_ENGINE",
        "IDLE_TIMEOUT",
        "ABSOLUTE_TIMEOUT",
        "TOUCH_AFTER",
        "RECORD_METADATA",
        "TRANSPORT",
        "HEADER",
        "MAX_SIZE",
    }
)
STORE_KEYS = frozenset({"BACKEND", "OPTIONS"})
COOKIE_KEYS = frozenset(
    {"PATH", "DOMAIN", "SECURE", "HTTPONLY", "SAMESITE", "PARTITIONED", "PRIORITY"}
)
SAMESITE_VALUES = {"lax": "Lax", "strict": "Strict", "none": "None", "auto": "auto"}
PRIORITY_VALUES = {"low": "Low", "medium": "Medium", "high": "High"}

# RFC 6265 cookie-name token: visible ASCII except separators.
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def _names_a_cookie_attribute(name: str) -> bool:
    # Python's http.cookies, under Django's set_cookie, refuses to set a
    # cookie named like one of its attributes; Python 3.14 adds Partitioned.
    return Morsel().isReservedKey(name) or name.lower() == "partitioned"


#: The longest duration an option may give, 100 years: a session's expiry
#: is a datetime, which ends at the year 9999.
MAX_SECONDS = 100 * 365 * 24 * 3600

# Settings whose change must rebuild the options object.
WATCHED_SETTINGS = frozenset(
    {
        "XSESSION",
        "SECRET_KEY",
        "SECRET_KEY_FALLBACKS",
        "SESSION_COOKIE_NAME",
        "SESSION_COOKIE_AGE",
        "SESSION_EXPIRE_AT_BROWSER_CLOSE",
        "SESSION_COOKIE_PATH",
        "SESSION_COOKIE_DOMAIN",
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
    }
)

Secure = bool | Literal["auto"]
SameSite = Literal["Lax", "Strict", "None", "auto"] | None
Priority = Literal["Low", "Medium", "High"] | None
GenId = Callable[[HttpRequest | None], str]


# "Token" in the name: Django's error reports hide such request headers.
DEFAULT_HEADER = "X-Session-Token"


@dataclass(frozen=True)
class CookieOptions:
    """Attributes of the session cookie, resolved from ``XSESSION["COOKIE"]``."""

    path: str = "/"
    domain: str | None = None
    secure: Secure = False
    httponly: bool = True
    samesite: SameSite = "Lax"
    partitioned: bool = False
    priority: Priority = None


_FALLBACK_COOKIE = CookieOptions()


# What would end the attribute and start one of the value's own (';',
# whitespace, control characters), and with it what would fail as a header
# (beyond Latin-1). Anything else is the browser's to judge.
_ENDS_COOKIE_ATTRIBUTE = re.compile(r"[;\s\x00-\x1f\x7f]")
_COOKIE_ATTRIBUTE_BREAK = re.compile(rf"{_ENDS_COOKIE_ATTRIBUTE.pattern}|[^\x00-\xff]")


def cookie_attribute(name: str, value: Any) -> Any:
    """Check and normalise one cookie attribute; raise ``ValueError`` if bad.

    ``name`` is lower-case (``"samesite"``); SameSite and Priority values
    are case-insensitive and come back capitalised.
    """
    if name == "path":
        if (
            not isinstance(value, str)
            or not value.startswith("/")
            or _ENDS_COOKIE_ATTRIBUTE.search(value)
        ):
            raise ValueError(
                "must start with '/' and hold no ';', whitespace or control character."
            )
        if not value.isascii():
            # The header would carry it in Latin-1, if at all, and browsers
            # compare it with the URL's path, which is percent-encoded UTF-8:
            # such a cookie would never come back.
            raise ValueError(
                "must be percent-encoded, as browsers compare it with the "
                f"URL's path: {quote(value, safe=string.punctuation)!r}, "
                f"not {value!r}."
            )
        return value
    if name == "domain":
        if value is None or value == "":
            # Django writes no Domain for an empty SESSION_COOKIE_DOMAIN either.
            return None
        if not isinstance(value, str) or _COOKIE_ATTRIBUTE_BREAK.search(value):
            raise ValueError(
                "must be None or a domain with no ';', whitespace, control "
                "character or character beyond Latin-1."
            )
        return value
    if name == "secure":
        if not isinstance(value, bool) and value != "auto":
            raise ValueError("must be True, False or 'auto'.")
        return value
    if name in ("httponly", "partitioned"):
        if not isinstance(value, bool):
            raise ValueError("must be a bool.")
        return value
    if name == "samesite":
        if value is None or value is False:
            return None
        resolved = (
            SAMESITE_VALUES.get(value.lower()) if isinstance(value, str) else None
        )
        if resolved is None:
            raise ValueError("must be 'Lax', 'Strict', 'None', 'auto' or False.")
        return resolved
    if name == "priority":
        if value is None:
            return None
        resolved = (
            PRIORITY_VALUES.get(value.lower()) if isinstance(value, str) else None
        )
        if resolved is None:
            raise ValueError("must be 'Low', 'Medium' or 'High'.")
        return resolved
    raise ValueError(f"{name!r} is not a cookie attribute.")


def prefix_requirements(
    name: str, secure: Secure, path: str, domain: str | None
) -> dict[str, str]:
    """The attributes a cookie named ``name`` lacks for browsers to keep it.

    Maps each attribute (``"secure"``) to the value it must have
    (``"True or 'auto'"``). RFC 6265bis: a name that starts with
    ``__Secure-`` needs Secure, one with ``__Host-`` also Path=/ and no
    Domain, either prefix in any case. ``"auto"`` is enough: it is Secure on
    HTTPS, the only place such a cookie can be kept.
    """
    lowered = name.lower()
    host = lowered.startswith("__host-")
    if not host and not lowered.startswith("__secure-"):
        return {}
    lacking: dict[str, str] = {}
    if secure is False:
        lacking["secure"] = "True or 'auto'"
    if host and path != "/":
        lacking["path"] = "'/'"
    if host and domain is not None:
        lacking["domain"] = "None"
    return lacking


@dataclass(frozen=True)
class StoreConfig:
    """Which store class to use and the keyword arguments it is built with."""

    backend: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    """Every django-xsession setting, with Django's settings as defaults."""

    store: StoreConfig
    name: str
    secrets: tuple[str, ...]
    max_age: int | None
    expires: datetime.datetime | None
    rolling: bool = False
    resave: bool = False
    save_uninitialized: bool = False
    unset: Literal["keep", "destroy"] = "keep"
    proxy: bool | None = None
    genid: GenId | None = None
    cookie: CookieOptions = field(default_factory=CookieOptions)
    on_store_error: Literal["raise", "degrade"] = "raise"
    legacy_contrib: bool = False
    legacy_engine: str = "django.contrib.sessions.backends.db"
    idle_timeout: int | None = None
    absolute_timeout: int | None = None
    touch_after: int = 0
    record_metadata: bool = True
    transport: Literal["cookie", "header", "both"] = "cookie"
    header: str = DEFAULT_HEADER
    max_size: int = 1_048_576


@dataclass(frozen=True)
class Problem:
    """One configuration mistake, turned into a system check message."""

    id: str
    msg: str
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return ".E" in self.id


def _takes_one_argument(function: Callable[..., Any]) -> bool:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return True  # no signature to tell: calling it will
    try:
        signature.bind(None)
    except TypeError:
        return False
    return True


def _is_seconds(value: object, minimum: int) -> TypeGuard[int]:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and minimum <= value <= MAX_SECONDS
    )


_SECRETS = "XSESSION['SECRETS']"
# What each setting the secrets come from must be.
_SECRET_SHAPES = {
    _SECRETS: "a string or a list of strings",
    "SECRET_KEY": "a string",
    "SECRET_KEY_FALLBACKS": "a list of strings",
}

_REDIS_MODULE = "django_xsession.stores.redis"

# What importing a configured path can raise: import_module("") raises
# ValueError and a relative path (".x") TypeError, not ImportError.
_IMPORT_ERRORS = (ImportError, ValueError, TypeError)


def _redis_import_hint(error: Exception) -> str | None:
    """How to mend the redis store's ``error``, if redis-py is missing."""
    # The module imports django-redis only when it connects, and imports
    # under any redis-py django-redis takes.
    failing = error.name if isinstance(error, ModuleNotFoundError) else None
    if not failing or failing.partition(".")[0] != "redis":
        return None
    return (
        "The redis store needs django-redis and redis-py: pip install "
        "'django-xsession[redis]'."
    )


def _store_option_error(name: str, value: Any) -> str | None:
    """What is wrong with one option of our own stores, or None."""
    if name == "using":
        valid = value is None or (
            isinstance(value, str) and value in settings.DATABASES
        )
        expected = "None or a DATABASES alias"
    elif name == "cache":
        valid = isinstance(value, str) and value in settings.CACHES
        expected = "a CACHES alias"
    elif name == "prefix":
        valid, expected = isinstance(value, str), "a string"
    elif name in ("max_entries", "copy_timeout"):
        valid = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        expected = "a whole number, 1 or more"
    else:
        return None
    return None if valid else f"must be {expected}, not {value!r}."


def _decodes_responses(cache: dict[str, Any]) -> bool:
    options = cache.get("OPTIONS")
    pool = options.get("CONNECTION_POOL_KWARGS") if isinstance(options, dict) else None
    pooled = isinstance(pool, dict) and bool(pool.get("decode_responses"))
    location = cache.get("LOCATION")
    urls = location if isinstance(location, list | tuple) else [location]
    for url in urls:
        if not isinstance(url, str):
            continue
        # As redis-py's from_url() reads it: the query's first value, over
        # the pool's keyword arguments.
        values = parse_qs(urlsplit(url).query).get("decode_responses")
        if values is None:
            if pooled:
                return True
        elif values[0].upper() not in ("0", "F", "FALSE", "N", "NO"):
            return True
    return False


def is_django_redis(backend: object) -> bool:
    """Whether ``backend`` (a cache's ``BACKEND``) names django-redis's cache."""
    if not isinstance(backend, str):
        return False
    try:
        from django_redis.cache import RedisCache  # type: ignore[import-untyped]

        backend_class = import_string(backend)
    except ImportError:
        return False
    return isinstance(backend_class, type) and issubclass(backend_class, RedisCache)


def _spelled_as_parameters(
    store_class: type[Store], options: Mapping[Any, Any]
) -> dict[str, Any]:
    """``options`` under the names the store's keyword arguments spell.

    Option names are case-insensitive, keyword arguments are not: ``DBPATH``
    reaches a ``dbPath`` argument. A name the store does not take is given
    in lower case.
    """
    keywords = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    try:
        parameters = inspect.signature(store_class).parameters.values()
    except (TypeError, ValueError):
        parameters = None  # no signature to bind to: building the store will tell
    spelled = {
        parameter.name.lower(): parameter.name
        for parameter in parameters or ()
        if parameter.kind in keywords
    }
    named = {}
    for key, value in options.items():
        name = str(key)
        if name not in spelled.values():
            name = spelled.get(name.lower(), name.lower())
        named[name] = value
    return named


class _Reader:
    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.problems: list[Problem] = []

    def problem(self, id: str, msg: str, hint: str | None = None) -> None:
        self.problems.append(Problem(id, msg, hint))

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            self.problem("xsession.E005", f"XSESSION[{key!r}] must be True or False.")
            return default
        return value

    def store(self) -> StoreConfig:
        value = self.raw.get("STORE", DEFAULT_STORE)
        options: Any = {}
        if isinstance(value, Mapping):
            unknown = set(value) - STORE_KEYS
            if unknown:
                self.problem(
                    "xsession.E003",
                    "Unknown keys in XSESSION['STORE']: "
                    f"{', '.join(sorted(map(str, unknown)))}.",
                    hint=f"Known keys: {', '.join(sorted(STORE_KEYS))}.",
                )
            options = value.get("OPTIONS", {})
            value = value.get("BACKEND")
            if not isinstance(options, Mapping):
                self.problem(
                    "xsession.E003", "XSESSION['STORE']['OPTIONS'] must be a dict."
                )
                options = {}
        if not isinstance(value, str):
            self.problem(
                "xsession.E003",
                "XSESSION['STORE'] must be a store alias, a dotted path or "
                "{'BACKEND': ..., 'OPTIONS': {...}}.",
            )
            return StoreConfig(STORE_ALIASES[DEFAULT_STORE])
        backend = STORE_ALIASES.get(value, value)
        try:
            store_class = import_string(backend)
        except _IMPORT_ERRORS as error:
            self.unimportable_store(value, error)
            return StoreConfig(STORE_ALIASES[DEFAULT_STORE])
        from django_xsession.stores.base import Store

        if not (isinstance(store_class, type) and issubclass(store_class, Store)):
            self.problem(
                "xsession.E003",
                f"Session store {value!r} is not a subclass of "
                "django_xsession.stores.base.Store.",
            )
            return StoreConfig(STORE_ALIASES[DEFAULT_STORE])
        options = _spelled_as_parameters(store_class, options)
        self.store_options(value, store_class, options)
        return StoreConfig(backend, options)

    def unimportable_store(self, value: str, error: Exception) -> None:
        choices = (
            f"Use one of {', '.join(STORE_ALIASES)} or a dotted path to a "
            "subclass of django_xsession.stores.base.Store."
        )
        if value not in STORE_ALIASES and "." not in value:
            self.problem(
                "xsession.E003", f"Unknown session store {value!r}.", hint=choices
            )
            return
        # The error of a module found but failing its own imports (a missing
        # dependency) is the one to fix. For the redis store, installing the
        # extra mends only a missing or old redis-py: any other error is the
        # message's alone to tell.
        hint = (
            _redis_import_hint(error)
            if STORE_ALIASES.get(value, value) == STORE_ALIASES["redis"]
            else choices
        )
        self.problem(
            "xsession.E003",
            f"Session store {value!r} cannot be imported: {error}.",
            hint=hint,
        )

    def store_options(
        self, value: str, store_class: type[Store], options: Mapping[str, Any]
    ) -> None:
        # Bound, never instantiated: building a store may connect to it.
        try:
            signature = inspect.signature(store_class)
        except (TypeError, ValueError):
            return  # no signature to bind to: building the store will tell
        try:
            bound = signature.bind(**options)
        except TypeError as error:
            self.problem(
                "xsession.E003",
                f"XSESSION['STORE']['OPTIONS'] do not fit the {value!r} store: "
                f"{error}.",
                hint=f"It takes: {', '.join(signature.parameters) or 'no options'}.",
            )
            return
        # Only our own stores' __init__ is known to give these names a meaning.
        defined_in = getattr(store_class.__init__, "__module__", None) or ""
        if not defined_in.startswith("django_xsession.stores."):
            return
        bound.apply_defaults()
        for name, option in bound.arguments.items():
            # None as the store's own default (the redis store's prefix) is
            # the store's to read; other defaults are checked as given.
            own_none = option is None and signature.parameters[name].default is None
            mistake = None if own_none else _store_option_error(name, option)
            if mistake is not None:
                self.problem(
                    "xsession.E003",
                    f"XSESSION['STORE']['OPTIONS'][{name!r}] {mistake}",
                )
                continue
            if name != "cache" or defined_in != _REDIS_MODULE:
                continue
            backend = settings.CACHES[option].get("BACKEND", "")
            if not is_django_redis(backend):
                self.problem(
                    "xsession.E003",
                    f"XSESSION['STORE']['OPTIONS']['cache'] ({option!r}) must be "
                    f"a django-redis cache, not {backend!r}.",
                    hint="The redis store talks to Redis through django-redis: set "
                    "the cache's BACKEND to 'django_redis.cache.RedisCache' (pip "
                    "install django-redis). Django's own RedisCache does not give "
                    "out its connection.",
                )
            elif _decodes_responses(settings.CACHES[option]):
                self.problem(
                    "xsession.E003",
                    f"XSESSION['STORE']['OPTIONS']['cache'] ({option!r}) decodes "
                    "Redis's replies to text (decode_responses in its LOCATION or "
                    "CONNECTION_POOL_KWARGS): the redis store would find no session.",
                    hint="Give the redis store a cache alias without decode_responses.",
                )

    def secrets(self) -> tuple[str, ...]:
        # Each setting the secrets come from, which the project must change:
        # most set SECRET_KEY and no XSESSION["SECRETS"].
        if "SECRETS" in self.raw:
            value = self.raw["SECRETS"]
            sources = {_SECRETS: [value] if isinstance(value, str) else value}
        else:
            sources = {
                # Only read SECRET_KEY when needed: Django raises if it is empty.
                "SECRET_KEY": [settings.SECRET_KEY],
                # A string here would be taken apart into one-letter secrets.
                "SECRET_KEY_FALLBACKS": getattr(settings, "SECRET_KEY_FALLBACKS", []),
            }
        for source, secrets in sources.items():
            if not isinstance(secrets, list | tuple) or not all(
                isinstance(secret, str) for secret in secrets
            ):
                self.problem(
                    "xsession.E002", f"{source} must be {_SECRET_SHAPES[source]}."
                )
                return ("",)
        every = tuple(secret for secrets in sources.values() for secret in secrets)
        if not every or not all(every):
            source = next(
                (source for source, secrets in sources.items() if "" in secrets),
                _SECRETS,
            )
            self.problem(
                "xsession.E001",
                f"{_SECRETS} must hold at least one non-empty secret."
                if source == _SECRETS
                else f"{source} must hold no empty secret.",
                hint="The first secret signs the cookie; every one verifies it.",
            )
            return ("",)
        return every

    def lifetime(self) -> tuple[int | None, datetime.datetime | None]:
        max_age: int | None = (
            None
            if settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
            else settings.SESSION_COOKIE_AGE
        )
        expires: datetime.datetime | None = None
        # Browser sessions are stored for SESSION_COOKIE_AGE too.
        cookie_age_in_use = True
        # express-session: when both are given, the key that comes later wins.
        for key in self.raw:
            if key == "MAX_AGE":
                value = self.raw[key]
                if isinstance(value, datetime.timedelta):
                    value = int(value.total_seconds())
                if value is not None and not _is_seconds(value, minimum=1):
                    self.problem(
                        "xsession.E005",
                        "XSESSION['MAX_AGE'] must be None, a number of seconds "
                        f"(1 to {MAX_SECONDS}, 100 years) or a timedelta.",
                    )
                    continue
                max_age, expires, cookie_age_in_use = value, None, value is None
            elif key == "EXPIRES":
                value = self.raw[key]
                if not isinstance(value, datetime.datetime):
                    self.problem(
                        "xsession.E005", "XSESSION['EXPIRES'] must be a datetime."
                    )
                    continue
                ahead = value - datetime.datetime.now(value.tzinfo)
                if ahead.total_seconds() > MAX_SECONDS:
                    self.problem(
                        "xsession.E005",
                        "XSESSION['EXPIRES'] must be at most 100 years ahead, "
                        f"not {value.isoformat()}.",
                    )
                    continue
                self.problem(
                    "xsession.W001",
                    "XSESSION['EXPIRES'] fixes the instant every session ends.",
                    hint="Prefer MAX_AGE, which counts from each session's last save.",
                )
                max_age, expires, cookie_age_in_use = None, value, False
        cookie_age = settings.SESSION_COOKIE_AGE
        # Its type is Django's to judge, as Django's own sessions read it. 0
        # or less would end every session at once, as XSESSION['MAX_AGE'].
        if (
            cookie_age_in_use
            and isinstance(cookie_age, int)
            and not 1 <= cookie_age <= MAX_SECONDS
        ):
            self.problem(
                "xsession.E005",
                f"SESSION_COOKIE_AGE must be a number of seconds (1 to "
                f"{MAX_SECONDS}, 100 years), not {cookie_age}.",
            )
        return max_age, expires

    def name_source(self) -> str:
        return "XSESSION['NAME']" if "NAME" in self.raw else "SESSION_COOKIE_NAME"

    def name(self, *, sent: bool) -> str:
        value = self.raw.get("NAME", settings.SESSION_COOKIE_NAME)
        if not isinstance(value, str) or not _COOKIE_NAME.fullmatch(value):
            self.problem(
                "xsession.E005",
                f"{self.name_source()} must be a valid cookie name, not {value!r}.",
            )
            return str(settings.SESSION_COOKIE_NAME)
        # The header transport never sets the cookie.
        if sent and _names_a_cookie_attribute(value):
            self.problem(
                "xsession.E005",
                f"{self.name_source()} ({value!r}) is the name of a cookie "
                "attribute, which Python's http.cookies refuses as a cookie's "
                "name: every response that sets the session cookie would fail.",
                hint="Choose another name, such as 'sessionid'.",
            )
            return str(settings.SESSION_COOKIE_NAME)
        return value

    def unset(self) -> Literal["keep", "destroy"]:
        value = self.raw.get("UNSET", "keep")
        if value not in ("keep", "destroy"):
            self.problem(
                "xsession.E006", "XSESSION['UNSET'] must be 'keep' or 'destroy'."
            )
            return "keep"
        return value  # type: ignore[no-any-return]

    def on_store_error(self) -> Literal["raise", "degrade"]:
        value = self.raw.get("ON_STORE_ERROR", "raise")
        if value not in ("raise", "degrade"):
            self.problem(
                "xsession.E012",
                "XSESSION['ON_STORE_ERROR'] must be 'raise' or 'degrade'.",
            )
            return "raise"
        return value  # type: ignore[no-any-return]

    def seconds(self, key: str, default: int | None, minimum: int = 0) -> int | None:
        value = self.raw.get(key, default)
        if isinstance(value, datetime.timedelta):
            value = int(value.total_seconds())
        if value is not None and not _is_seconds(value, minimum):
            self.problem(
                "xsession.E005",
                f"XSESSION[{key!r}] must be a number of seconds ({minimum} to "
                f"{MAX_SECONDS}, 100 years), a timedelta or None.",
            )
            return default
        return value

    def max_size(self) -> int:
        value = self.raw.get("MAX_SIZE", 1_048_576)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem(
                "xsession.E005",
                "XSESSION['MAX_SIZE'] must be a number of bytes (1 or more).",
            )
            return 1_048_576
        return value

    def transport(self) -> Literal["cookie", "header", "both"]:
        value = self.raw.get("TRANSPORT", "cookie")
        if value not in ("cookie", "header", "both"):
            self.problem(
                "xsession.E014",
                "XSESSION['TRANSPORT'] must be 'cookie', 'header' or 'both'.",
            )
            return "cookie"
        return value  # type: ignore[no-any-return]

    def header(self) -> str:
        value = self.raw.get("HEADER", DEFAULT_HEADER)
        if not isinstance(value, str) or not _COOKIE_NAME.fullmatch(value):
            self.problem(
                "xsession.E014",
                f"XSESSION['HEADER'] must be an HTTP header name, not {value!r}.",
            )
            return DEFAULT_HEADER
        if "_" in value:
            self.problem(
                "xsession.E014",
                f"XSESSION['HEADER'] ({value!r}) contains an underscore.",
                hint="nginx, gunicorn and Django's runserver drop request headers "
                "with underscores, so the session id would never come back: use "
                "hyphens.",
            )
            return DEFAULT_HEADER
        return value

    def legacy_engine(self) -> str:
        value = self.raw.get("LEGACY_ENGINE", "django.contrib.sessions.backends.db")
        try:
            engine = import_module(value) if isinstance(value, str) else None
        except _IMPORT_ERRORS:
            engine = None
        if engine is None or not hasattr(engine, "SessionStore"):
            self.problem(
                "xsession.E013",
                f"XSESSION['LEGACY_ENGINE'] ({value!r}) is not a session engine "
                "module with a SessionStore.",
            )
            return "django.contrib.sessions.backends.db"
        return value  # type: ignore[no-any-return]

    def proxy(self) -> bool | None:
        value = self.raw.get("PROXY")
        if value is not None and not isinstance(value, bool):
            self.problem(
                "xsession.E005", "XSESSION['PROXY'] must be None, True or False."
            )
            return None
        return value

    def genid(self) -> GenId | None:
        value = self.raw.get("GENID")
        if value is None:
            return None
        try:
            generator = import_string(value) if isinstance(value, str) else value
        except _IMPORT_ERRORS:
            generator = None
        if (
            not callable(generator)
            or not _takes_one_argument(generator)
            # Called from sync code too, which cannot await it.
            or inspect.iscoroutinefunction(generator)
        ):
            self.problem(
                "xsession.E007",
                "XSESSION['GENID'] must be the dotted path of a callable "
                "taking the request and returning a new session id.",
                hint="A plain function, not an async one: under ASGI it runs "
                "in a thread, so it may use the ORM.",
            )
            return None
        return generator  # type: ignore[no-any-return]

    def cookie(self, cookie_name: str, *, sent: bool) -> CookieOptions:
        value = self.raw.get("COOKIE", {})
        if not isinstance(value, Mapping):
            self.problem("xsession.E008", "XSESSION['COOKIE'] must be a dict.")
            value = {}
        unknown = set(value) - COOKIE_KEYS
        if unknown:
            self.problem(
                "xsession.E008",
                "Unknown keys in XSESSION['COOKIE']: "
                f"{', '.join(sorted(map(str, unknown)))}.",
                hint=f"Known keys: {', '.join(sorted(COOKIE_KEYS))}.",
            )
        defaults = {
            "path": settings.SESSION_COOKIE_PATH,
            "domain": settings.SESSION_COOKIE_DOMAIN,
            "secure": settings.SESSION_COOKIE_SECURE,
            "httponly": settings.SESSION_COOKIE_HTTPONLY,
            "samesite": settings.SESSION_COOKIE_SAMESITE,
            "partitioned": False,
            "priority": None,
        }

        def source(name: str) -> str:
            # The setting the value came from, which the project must change:
            # most set Django's SESSION_COOKIE_* and no XSESSION["COOKIE"].
            if name.upper() in value or name in ("partitioned", "priority"):
                return f"XSESSION['COOKIE'][{name.upper()!r}]"
            return f"SESSION_COOKIE_{name.upper()}"

        attributes: dict[str, Any] = {}
        for name, default in defaults.items():
            try:
                attributes[name] = cookie_attribute(
                    name, value.get(name.upper(), default)
                )
            except ValueError as error:
                self.problem("xsession.E008", f"{source(name)} {error}")
                attributes[name] = getattr(_FALLBACK_COOKIE, name)
        samesite, secure, partitioned = (
            attributes["samesite"],
            attributes["secure"],
            attributes["partitioned"],
        )
        if not sent:
            # The header transport sends no cookie for browsers to drop.
            return CookieOptions(**attributes)
        if samesite == "None" and secure is not True:
            self.problem(
                "xsession.E009",
                f"{source('samesite')} is 'None' but {source('secure')} is not True.",
                hint="Browsers reject SameSite=None cookies without Secure.",
            )
        if partitioned and secure is not True:
            self.problem(
                "xsession.E010",
                f"{source('partitioned')} is set but {source('secure')} is not True.",
                hint="Browsers reject Partitioned cookies without Secure.",
            )
        lacking = prefix_requirements(
            cookie_name, secure, attributes["path"], attributes["domain"]
        )
        if lacking:
            musts = "; ".join(
                f"{source(attribute)} must be {value}, not {attributes[attribute]!r}"
                for attribute, value in lacking.items()
            )
            self.problem(
                "xsession.E016",
                f"The cookie name {cookie_name!r} ({self.name_source()}) has a "
                f"prefix browsers enforce: {musts}.",
                hint="Browsers drop a cookie named __Secure-... unless it is "
                "Secure, and one named __Host-... unless it is also on Path "
                "'/' with no Domain. SECURE 'auto' is enough: such a cookie "
                "can only be kept over HTTPS, where 'auto' makes it Secure.",
            )
        return CookieOptions(**attributes)

    def timeouts(self) -> tuple[int | None, int | None, int]:
        # 0 would end every session on its next request.
        idle = self.seconds("IDLE_TIMEOUT", None, minimum=1)
        absolute = self.seconds("ABSOLUTE_TIMEOUT", None, minimum=1)
        touch_after = self.seconds("TOUCH_AFTER", 0) or 0
        if idle is not None and touch_after >= idle:
            self.problem(
                "xsession.W006",
                f"XSESSION['TOUCH_AFTER'] ({touch_after}) is not below "
                f"IDLE_TIMEOUT ({idle}): active users will be timed out.",
                hint="IDLE_TIMEOUT is measured to within TOUCH_AFTER; keep it "
                "well below.",
            )
        return idle, absolute, touch_after

    def touches_in_time(
        self,
        max_age: int | None,
        expires: datetime.datetime | None,
        rolling: bool,
        touch_after: int,
    ) -> None:
        # A browser session is stored for SESSION_COOKIE_AGE.
        lifetime = max_age
        source = "MAX_AGE"
        if max_age is None and expires is None:
            lifetime = settings.SESSION_COOKIE_AGE
            source = "SESSION_COOKIE_AGE, a browser session's stored lifetime"
        if (
            rolling
            and isinstance(lifetime, int)
            and not isinstance(lifetime, bool)
            and touch_after >= lifetime
        ):
            self.problem(
                "xsession.W015",
                f"XSESSION['TOUCH_AFTER'] ({touch_after}) is not below {source} "
                f"({lifetime}): ROLLING never moves a session's stored expiry "
                "before it passes, so active users are logged out.",
                hint="Only a write or a touch moves the stored expiry, and a "
                "touch comes at most every TOUCH_AFTER seconds; keep it well "
                "below MAX_AGE.",
            )

    def read(self) -> Options:
        max_age, expires = self.lifetime()
        idle_timeout, absolute_timeout, touch_after = self.timeouts()
        rolling = self.boolean("ROLLING", False)
        self.touches_in_time(max_age, expires, rolling, touch_after)
        transport = self.transport()
        name = self.name(sent=transport != "header")
        return Options(
            store=self.store(),
            name=name,
            secrets=self.secrets(),
            max_age=max_age,
            expires=expires,
            rolling=rolling,
            resave=self.boolean("RESAVE", False),
            save_uninitialized=self.boolean("SAVE_UNINITIALIZED", False),
            unset=self.unset(),
            proxy=self.proxy(),
            genid=self.genid(),
            cookie=self.cookie(name, sent=transport != "header"),
            on_store_error=self.on_store_error(),
            legacy_contrib=self.boolean("LEGACY_CONTRIB", False),
            legacy_engine=self.legacy_engine(),
            idle_timeout=idle_timeout,
            absolute_timeout=absolute_timeout,
            touch_after=touch_after,
            record_metadata=self.boolean("RECORD_METADATA", True),
            transport=transport,
            header=self.header(),
            max_size=self.max_size(),
        )


def read_options() -> tuple[Options, list[Problem]]:
    """Read the current settings; return the options and every problem found."""
    raw = getattr(settings, "XSESSION", {})
    if not isinstance(raw, Mapping):
        reader = _Reader({})
        reader.problem("xsession.E004", "The XSESSION setting must be a dict.")
    else:
        reader = _Reader(raw)
        unknown = set(raw) - KNOWN_KEYS
        if unknown:
            reader.problem(
                "xsession.E004",
                f"Unknown keys in XSESSION: {', '.join(sorted(map(str, unknown)))}.",
                hint=f"Known keys: {', '.join(sorted(KNOWN_KEYS))}.",
            )
    return reader.read(), reader.problems


_options: Options | None = None


def get_options() -> Options:
    """The options in force, read once and again whenever a setting changes."""
    global _options
    if _options is None:
        options, problems = read_options()
        errors = [problem for problem in problems if problem.is_error]
        if errors:
            raise ImproperlyConfigured(
                "; ".join(f"{problem.id}: {problem.msg}" for problem in errors)
            )
        _options = options
    return _options


@receiver(setting_changed)
def _reset_options(*, setting: str, **kwargs: Any) -> None:
    global _options
    if setting in WATCHED_SETTINGS:
        _options = None
