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
    path("scoped/inside/", views.write),
    path("scopedother/", views.write),
]
