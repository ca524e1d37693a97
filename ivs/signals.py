"""When a code stops working, its viewers' sessions are revoked at IVS (ivs/revocations.py).

Saving a code that is no longer valid (unticked *active*, an expiry in the past), deleting it,
or the admin's *Revoke* action (a bulk update, announced by gate's ``codes_revoked`` signal).
A code that simply reaches its expiry is found by ``manage.py ivs_revocations``.
"""

from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from gate.models import AccessCode
from gate.signals import codes_revoked
from ivs import revocations


@receiver(post_save, sender=AccessCode, dispatch_uid="ivs-code-saved")
def code_saved(sender, instance: AccessCode, created: bool, **kwargs) -> None:
    if not created and not instance.is_still_valid():
        reason = "code revoked" if not instance.is_active else "code expired"
        revocations.request([instance.pk], reason)


@receiver(pre_delete, sender=AccessCode, dispatch_uid="ivs-code-deleted")
def code_deleted(sender, instance: AccessCode, **kwargs) -> None:
    # Before the delete sets the grants' code to NULL, while they can still be found by it.
    revocations.request([instance.pk], "code deleted")


@receiver(codes_revoked, dispatch_uid="ivs-codes-revoked")
def codes_were_revoked(sender, code_ids: list[int], **kwargs) -> None:
    revocations.request(code_ids, "code revoked")
