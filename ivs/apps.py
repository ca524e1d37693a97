from django.apps import AppConfig


class IvsConfig(AppConfig):
    name = "ivs"
    verbose_name = "IVS playback"

    def ready(self) -> None:
        from ivs import checks, keys, signals  # noqa: F401  (registers checks and receivers)

        if keys.configured():
            keys.private_key()  # a key that cannot be used stops start-up, with the reason
