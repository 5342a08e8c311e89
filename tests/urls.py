from __future__ import annotations

from django.urls import path

from tests import views

urlpatterns = [
    path("read/", views.read),
    path("write/", views.write),
    path("nothing/", views.nothing),
    path("increment/", views.increment),
    path("destroy/", views.destroy),
    path("regenerate/", views.regenerate),
    path("unset/", views.unset),
    path("remember/", views.remember),
    path("fail/", views.fail),
    path("async-write/", views.async_write),
    path("nest/", views.nest),
    path("whoami/", views.whoami),
    path("login/", views.login_view),
    path("logout/", views.logout_view),
    path("save/", views.save),
    path("adopt/", views.adopt),
    path("write-after-delete/", views.write_after_delete),
    path("scoped/inside/", views.write),
    path("scopedother/", views.write),
    path("café/inside/", views.write),
    path("a=b/inside/", views.write),
]

# django.contrib features on top of the session: tests/test_django_features.py.
urlpatterns += [
    path("login-with-message/", views.login_with_message),
    path("logout-with-message/", views.logout_with_message),
    path("messages/add/", views.add_message),
    path("messages/", views.show_messages),
    path("csrf/form/", views.csrf_form),
    path("csrf/submit/", views.csrf_submit),
    path("password/", views.change_password),
    path("sign-up/", views.sign_up),
    path("rotate-after-logout/", views.rotate_after_logout),
    path("rotate-and-fail/", views.rotate_and_fail),
    path("logout-and-raise/", views.logout_and_raise),
    path("rotate-and-raise/", views.rotate_and_raise),
    path("async/logout-rolled-back/", views.async_logout_rolled_back),
    path("async/rotate-and-fail/", views.async_rotate_and_fail),
    path("async/rotate-and-write/", views.async_rotate_and_write),
    path("async/whoami/", views.async_whoami),
    path("async/login/", views.async_login),
    path("async/logout/", views.async_logout),
    path("async/password/", views.async_change_password),
    path("async/count/", views.async_count),
    path("async/id/", views.async_id),
]

# ON_STORE_ERROR: tests/test_outage.py, tests/test_db_outage.py.
urlpatterns += [
    path("store-status/", views.store_status),
    path("outage-caught/", views.outage_caught),
]

# Per-user sessions and signals: tests/test_users.py, tests/test_signals.py.
urlpatterns += [
    path("cycle-key/", views.cycle_key),
    path("async/regenerate/", views.async_regenerate),
    path("async/session-user/", views.async_session_user),
    path("sessions/current/", views.current_sessions),
    path("sessions/revoke-others/", views.revoke_others),
    path("sessions/revoke-all-then-logout/", views.revoke_all_then_logout),
    path("sessions/rotate-while-revoked/", views.rotate_while_revoked),
    path(
        "sessions/switch-user-after-revoke/",
        views.switch_user_after_a_revoked_rotation,
    ),
    path("sessions/password/", views.change_password_and_revoke_others),
    path("sessions/password-with-poll/", views.change_password_with_poll),
    path("rotate-then-replace/", views.rotate_then_replace),
    path("rotate-then-delete-old/", views.rotate_then_delete_old),
    path("async/sessions/current/", views.async_current_sessions),
    path("async/sessions/revoke-others/", views.async_revoke_others),
    path(
        "async/sessions/revoke-all-then-logout/",
        views.async_revoke_all_then_logout,
    ),
]

urlpatterns += [path("async/clear-unread/", views.async_clear_unread)]

urlpatterns += [
    path("save-remembering/", views.save_remembering),
    path("forget/", views.forget),
    path("cookie-attributes/", views.cookie_attributes),
    path("touch/", views.touch),
    path("reload/", views.reload),
    path("async/touch/", views.async_touch),
    path("write-then-delete/", views.write_then_delete),
    path("read-then-delete/", views.read_then_delete),
    path("clear-then-write/", views.clear_then_write),
    path("async/delete-test-cookie/", views.async_delete_test_cookie),
    path("async/destroy/", views.async_destroy),
    path("session-id/", views.session_id),
    path("destroy-then-id/", views.destroy_then_id),
    path("empty-and-fail/", views.empty_and_fail),
    path("session-flags/", views.session_flags),
    path("destroy-write-and-fail/", views.destroy_write_and_fail),
    path("retype-preferences/", views.retype_preferences),
    path("set-test-cookie/", views.set_test_cookie),
    path("nested-body/", views.nested_body),
]

urlpatterns += [
    path("create/", views.create),
    path("save-only/", views.save_only),
    path("async/save/", views.async_save),
    path("async/create/", views.async_create),
    path("end-then-unset/", views.end_then_unset),
    path("async/destroy-then-unset/", views.async_destroy_then_unset),
]

urlpatterns += [
    path("rotate-then-end/", views.rotate_then_end),
    path("async/rotate-then-end/", views.async_rotate_then_end),
    path("cycle-key-and-fail/", views.cycle_key_and_fail),
    path("async/cycle-key-and-fail/", views.async_cycle_key_and_fail),
]
