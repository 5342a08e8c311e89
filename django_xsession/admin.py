"""A read-only admin for the database store's sessions, with a revoke action.

The table keeps no session id, only its hash, so nothing here can show one.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import django
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_xsession.conf import get_options
from django_xsession.models import Session
from django_xsession.signals import session_revoked
from django_xsession.stores import get_store
from django_xsession.stores.base import session_serializer
from django_xsession.stores.db import DatabaseStore, stored_bytes
from django_xsession.users import SessionInfo

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices
    from django_stubs_ext import StrOrPromise

    _ModelAdmin = admin.ModelAdmin[Session]
else:
    # Generic only in the stubs, unless django-stubs-ext patched it.
    _ModelAdmin = admin.ModelAdmin

# Where the changelist leaves each row's user, looked up for the whole page.
_USER_ATTR = "_xsession_admin_user"
# Where it leaves the query string of the changelist of that user's sessions.
_USER_QUERY_ATTR = "_xsession_admin_user_query"
# The parameters of the user filter, as Django's own field filters name them.
USER_EXACT = "user_id__exact"
USER_ISNULL = "user_id__isnull"
# Rows deleted, then forgotten by a caching store, at a time: well under
# every database's limit of parameters in one statement.
_FORGET_BATCH = 500


def _forgetter() -> Callable[[list[str]], None] | None:
    """The configured store's ``forget(keys)``, if it keeps copies of rows.

    A store that caches rows (``cached_db``) would otherwise serve a revoked
    session from its copy until that expires.
    """
    forget: Callable[[list[str]], None] | None = getattr(get_store(), "forget", None)
    return forget


def _database(*, write: bool = False) -> str:
    """The alias the admin lists (or deletes) sessions in.

    The store's ``using`` option, else Django's router: a listing may come
    from a replica, as it only shows; deletions go where the store writes.
    """
    using: str | None = getattr(get_store(), "using", None)
    if using:
        return using
    return router.db_for_write(Session) if write else router.db_for_read(Session)


def _live() -> Q:
    """Rows of sessions that have not ended: neither past their stored expiry
    nor past ``IDLE_TIMEOUT`` or ``ABSOLUTE_TIMEOUT``, which end them first."""
    now = timezone.now()
    live = Q(expires__gt=now)
    options = get_options()
    if options.idle_timeout is not None:
        live &= Q(last_seen__gt=now - datetime.timedelta(seconds=options.idle_timeout))
    if options.absolute_timeout is not None:
        live &= Q(
            created__gt=now - datetime.timedelta(seconds=options.absolute_timeout)
        )
    return live


def _delete(queryset: QuerySet[Session], request: HttpRequest) -> tuple[int, int]:
    """Delete the sessions of ``queryset`` and their cached copies; end the
    live ones as ``revoke`` does (``session_revoked`` included).

    Returns how many live sessions were ended and how many rows of ended
    ones were deleted besides.
    """
    forget = _forgetter()
    # Rows the store does not read (a store other than the database's)
    # hold no live session: deleting them ends nothing.
    serving = isinstance(get_store(), DatabaseStore)
    # Listed where they are deleted: a replica that lags would list them
    # again and again.
    rows = queryset.using(_database(write=True)).order_by()
    ended: list[tuple[str, str | None]] = []
    removed = 0
    # Rows first, copies after: a request between the two finds no row to
    # cache again.
    while found := list(rows.values_list("key", "user_id")[:_FORGET_BATCH]):
        keys = [key for key, _user in found]
        live = (
            set(rows.filter(_live(), key__in=keys).values_list("key", flat=True))
            if serving
            else set()
        )
        rows.filter(key__in=keys).delete()
        if forget is not None:
            forget(keys)
        ended += [(key, user_id) for key, user_id in found if key in live]
        removed += len(found) - len(live)
    for key_hash, user_id in ended:
        session_revoked.send(
            sender=SessionInfo, key_hash=key_hash, user_id=user_id, request=request
        )
    return len(ended), removed


# Session keys whose values are credentials: Django's auth hash, CSRF secret
# and password-reset token, and what a project names alike (the words of
# Django's SafeExceptionReporterFilter, and more). Staff who may only view
# sessions must not lift them off this page.
_SECRET_KEY_WORDS = (
    "token",
    "secret",
    "pass",
    "key",
    "signature",
    "api",
    "auth",
    "credential",
    "cookie",
    "hash",
    "csrf",
    # One-time codes and the state of a login in progress elsewhere (OAuth,
    # OpenID Connect, SAML, PKCE, a reset link): each can complete a login.
    "nonce",
    "verifier",
    "otp",
    "code",
    "reset",
    "oauth",
    "oidc",
    "saml",
    "sso",
    "jwt",
    "bearer",
    "private",
)
# Django's own, which name the user the page shows anyway: not credentials.
_SHOWN_KEYS = frozenset({"_auth_user_id", "_auth_user_backend"})


def _secret(key: Any) -> bool:
    if key in _SHOWN_KEYS:
        return False
    lowered = str(key).lower()
    return any(word in lowered for word in _SECRET_KEY_WORDS)


# Data nested deeper than Python recurses, which a request stores and loads
# whole: decoding it here, with the admin's deeper stack, or masking and
# indenting it, which recurse further, would fail the page.
_TOO_DEEP = _("The data is nested too deeply to show.")


def _masked(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            key: "********" if _secret(key) else _masked(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_masked(value) for value in data]
    return data


def _users(user_ids: Iterable[str | None]) -> dict[str, AbstractBaseUser]:
    """The users behind ``user_ids`` (as the table stores them), in one query."""
    model = get_user_model()
    field = model._meta.pk
    database = router.db_for_read(model)
    ops = connections[database].ops
    # An id the user table's integers cannot hold names no user, and would
    # overflow the query (a crafted filter, a session of another system).
    # SQLite before Django 5.0 reports no range: it holds 64 bits.
    low, high = (
        ops.integer_field_range(field.get_internal_type())
        if field.get_internal_type() in ops.integer_field_ranges
        else (None, None)
    )
    low = -(2**63) if low is None else low
    high = 2**63 - 1 if high is None else high
    pks: dict[Any, str] = {}
    for user_id in user_ids:
        if user_id is None:
            continue
        try:
            pk = field.to_python(user_id)
        except ValidationError:
            continue
        if isinstance(pk, int) and not low <= pk <= high:
            continue
        pks[pk] = user_id
    if not pks:
        return {}
    users = model._default_manager.db_manager(database).in_bulk(list(pks))
    return {pks[pk]: user for pk, user in users.items()}


def _user_filter(user_id: str | None) -> dict[str, str]:
    """The changelist parameters that select the sessions of ``user_id``."""
    return {USER_ISNULL: "True"} if user_id is None else {USER_EXACT: user_id}


def _user_label(user_id: str, user: AbstractBaseUser | None) -> str:
    if user is None:
        return str(_("unknown user (id %(id)s)") % {"id": user_id})
    return str(user.get_username())


class _ChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        rows = list(self.result_list)
        users = _users(row.user_id for row in rows)
        for row in rows:
            setattr(row, _USER_ATTR, users.get(row.user_id or ""))
            # The other filters, the search and the ordering stay.
            query = self.get_query_string(
                _user_filter(row.user_id), [USER_EXACT, USER_ISNULL]
            )
            setattr(row, _USER_QUERY_ATTR, query)


def _flag(value: str | None) -> bool:
    # As Django reads an ``__isnull`` parameter.
    return value is not None and value.lower() not in ("", "false", "0")


class UserFilter(admin.FieldListFilter):
    """The sessions of one user, or the anonymous ones.

    The user column links here. The filter lists no users of its own (a
    site may have millions): only "All", "Anonymous" and the user selected.
    """

    def __init__(
        self,
        field: Any,
        request: HttpRequest,
        params: dict[str, Any],
        model: type[Session],
        model_admin: admin.ModelAdmin[Any],
        field_path: str,
    ) -> None:
        # Django 5.0+ passes each parameter's values as a list, 4.2 one string.
        self.user_id = self._last(params.get(USER_EXACT))
        self.anonymous = _flag(self._last(params.get(USER_ISNULL)))
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = _("user")

    @staticmethod
    def _last(value: Any) -> str | None:
        if isinstance(value, list):
            value = value[-1] if value else None
        return None if value is None else str(value)

    def expected_parameters(self) -> list[str | None]:
        return [USER_EXACT, USER_ISNULL]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> QuerySet[Any] | None:
        if self.user_id is not None:
            queryset = queryset.filter(user_id=self.user_id)
        if self.anonymous:
            queryset = queryset.filter(user_id__isnull=True)
        return queryset

    def choices(self, changelist: ChangeList) -> Iterator[_ListFilterChoices]:
        both = [USER_EXACT, USER_ISNULL]
        yield {
            "selected": self.user_id is None and not self.anonymous,
            "query_string": changelist.get_query_string(remove=both),
            "display": _("All"),
        }
        yield {
            "selected": self.anonymous and self.user_id is None,
            "query_string": changelist.get_query_string(_user_filter(None), both),
            "display": _("Anonymous"),
        }
        if self.user_id is not None:
            user = _users([self.user_id]).get(self.user_id)
            yield {
                "selected": True,
                "query_string": changelist.get_query_string(
                    _user_filter(self.user_id), both
                ),
                "display": _user_label(self.user_id, user),
            }


class ExpiryFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, StrOrPromise]]:
        return [("live", _("Live")), ("expired", _("Expired"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> QuerySet[Any] | None:
        # Ended as the session layer ends them, not only by stored expiry.
        if self.value() == "live":
            return queryset.filter(_live())
        if self.value() == "expired":
            return queryset.exclude(_live())
        return queryset


@admin.register(Session)
class SessionAdmin(_ModelAdmin):
    """Sessions of the database store: view them, revoke them, never edit them."""

    list_display = ("user", "created", "last_seen", "expires")
    # The user column links to that user's sessions, so the detail link is
    # on the next one.
    list_display_links = ("created",)
    list_filter = (ExpiryFilter, ("user_id", UserFilter))
    fields = ("user", "created", "last_seen", "expires", "decoded_data")
    readonly_fields = fields
    # Exact: a session of user 1 must not turn up for 12. Usernames are
    # matched in get_search_results.
    search_fields = ("=user_id",)
    # ``expires`` is indexed; sorting a large table by anything else is slow.
    ordering = ("-expires",)
    actions = ("revoke",)

    def lookup_allowed(
        self, lookup: str, value: str, request: HttpRequest | None = None
    ) -> bool:
        # The changelist's own filters only: Django takes a lookup on any
        # column from the URL, and the count of rows "data__contains" a
        # guess finds would spell out a masked value to view-only staff.
        return lookup in (ExpiryFilter.parameter_name, USER_EXACT, USER_ISNULL)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return _ChangeList

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        # The store's database, where its ``using`` option puts the sessions.
        return super().get_queryset(request).using(_database())

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        store = get_store()
        if not isinstance(store, DatabaseStore):
            # The rows are left from a database store used before: deleting
            # them tidies the table, but no live session is listed or ended.
            messages.warning(
                request,
                _(
                    "The session store is %(store)s: live sessions are kept "
                    "there, not in this table, and are not listed here."
                )
                % {"store": type(store).__name__},
            )
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: Session | None = None
    ) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Session) -> None:
        _delete(Session.objects.filter(pk=obj.pk), request)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[Session]
    ) -> None:
        _delete(queryset, request)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Session], search_term: str
    ) -> tuple[QuerySet[Session], bool]:
        found, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        term = search_term.strip()
        if not term:
            return found, may_have_duplicates
        model = get_user_model()
        # Whole usernames only: a partial match could select thousands of
        # users, more ids than a database accepts in one IN list.
        pks = model._default_manager.filter(
            **{f"{model.USERNAME_FIELD}__iexact": term}
        ).values_list("pk", flat=True)
        user_ids = [str(pk) for pk in pks]
        if user_ids:
            found = found | queryset.filter(user_id__in=user_ids)
        return found, may_have_duplicates

    @admin.display(description=_("user"), ordering="user_id")
    def user(self, obj: Session) -> SafeString:
        """The user's name, a link to the changelist of their sessions."""
        query = getattr(obj, _USER_QUERY_ATTR, None)
        if query is None:
            # The detail page: the changelist, of this user's sessions only.
            opts = self.model._meta
            changelist = reverse(
                f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_changelist"
            )
            query = f"{changelist}?{urlencode(_user_filter(obj.user_id))}"
        return format_html('<a href="{}">{}</a>', query, self._user_name(obj))

    def _user_name(self, obj: Session) -> str:
        if obj.user_id is None:
            return str(_("anonymous"))
        if hasattr(obj, _USER_ATTR):
            user = getattr(obj, _USER_ATTR)
        else:
            user = _users([obj.user_id]).get(obj.user_id)
        return _user_label(obj.user_id, user)

    @admin.display(description=_("data"))
    def decoded_data(self, obj: Session) -> SafeString:
        serializer = session_serializer()
        try:
            data = serializer.loads(stored_bytes(obj.data))
        except RecursionError:
            return format_html("<em>{}</em>", _TOO_DEEP)
        except Exception:
            return format_html("<em>{}</em>", _("The data cannot be decoded."))
        try:
            text = json.dumps(
                _masked(data), indent=2, sort_keys=True, ensure_ascii=False, default=str
            )
        except RecursionError:
            return format_html("<em>{}</em>", _TOO_DEEP)
        return format_html("<pre>{}</pre>", text)

    @admin.action(description=_("Revoke selected sessions"), permissions=["delete"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        # Logged before deleting, as Django's own delete action does.
        if django.VERSION >= (5, 1):
            self.log_deletions(request, queryset)
        else:
            for obj in queryset:
                self.log_deletion(request, obj, str(obj))  # type: ignore[attr-defined]
        revoked, removed = _delete(queryset, request)
        said = []
        if revoked or not removed:
            said.append(
                ngettext(
                    "Revoked %(count)d session.", "Revoked %(count)d sessions.", revoked
                )
                % {"count": revoked}
            )
        if removed:
            said.append(
                ngettext(
                    "Deleted %(count)d session that had ended already.",
                    "Deleted %(count)d sessions that had ended already.",
                    removed,
                )
                % {"count": removed}
            )
        self.message_user(request, " ".join(said), messages.SUCCESS)
