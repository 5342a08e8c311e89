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
]
