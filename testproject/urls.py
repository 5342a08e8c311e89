from __future__ import annotations

from django.contrib import admin
from django.urls import path

from testproject import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("regenerate/", views.regenerate, name="regenerate"),
    path("forget/", views.forget, name="forget"),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/revoke-others/", views.revoke_others, name="revoke-others"),
    path("sessions/revoke/", views.revoke_one, name="revoke-one"),
]
