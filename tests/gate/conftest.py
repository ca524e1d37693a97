"""Fixtures for the admin's access-code pages: a signed-in superuser (``admin``), a code printed
as GDRP-N3JA-J9 (``code``), and ``staff_with(*codenames)``, a signed-in staff user holding only
those permissions."""

import pytest
from django.contrib.auth.models import Permission

from gate.models import AccessCode


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-123456")
    client.force_login(user)
    return client


@pytest.fixture
def code(make_code) -> AccessCode:
    return make_code("gdrp n3ja j9", label="Press")


@pytest.fixture
def staff_with(client, django_user_model):
    """A staff user holding only the given access-code permissions, logged in."""

    names = iter(range(1, 100))

    def make(*codenames: str):
        user = django_user_model.objects.create_user(
            f"clerk{next(names)}", password="pw-123456", is_staff=True
        )
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
        client.force_login(user)
        return client

    return make
