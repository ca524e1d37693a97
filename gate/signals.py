from django.dispatch import Signal

# Sent with ``code_ids`` after codes were revoked in bulk (``AccessCode.objects.revoke()``),
# which, being one UPDATE, sends no post_save.
codes_revoked = Signal()
