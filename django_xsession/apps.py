from __future__ import annotations

from django.apps import AppConfig


class XSessionConfig(AppConfig):
    name = "django_xsession"
    verbose_name = "Sessions"

    def ready(self) -> None:
        from django_xsession import checks

        checks.register()
