"""Create the ``demo`` superuser (password ``demo``) so the admin works."""

from __future__ import annotations

from django.apps.registry import Apps
from django.contrib.auth.hashers import make_password
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

USERNAME = "demo"
PASSWORD = "demo"


def create_demo_user(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    User = apps.get_model("auth", "User")
    User.objects.using(schema_editor.connection.alias).update_or_create(
        username=USERNAME,
        defaults={
            "password": make_password(PASSWORD),
            "is_staff": True,
            "is_superuser": True,
            "is_active": True,
        },
    )


def delete_demo_user(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    User = apps.get_model("auth", "User")
    db = schema_editor.connection.alias
    User.objects.using(db).filter(username=USERNAME).delete()


class Migration(migrations.Migration):
    dependencies = (("auth", "0012_alter_user_first_name_max_length"),)

    operations = (migrations.RunPython(create_demo_user, delete_demo_user),)
