from django.apps import AppConfig


class CaptionsConfig(AppConfig):
    name = "captions"
    verbose_name = "Captions"
