"""One line per event: a development request is not logged twice, and LOG_FORMAT=json writes
each event as one JSON object."""

import json
import os
import subprocess
import sys

import pytest

from tests.live_site import BASE_DIR

LOG_A_REQUEST = (
    "import django, logging; django.setup(); "
    "logging.getLogger('django.channels.server').info('HTTP GET /enter/ 200 [0.01, x]')"
)


def log_lines(**env: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-c", LOG_A_REQUEST],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "livestream.settings", "DEBUG": "true", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line for line in completed.stderr.splitlines() if "GET /enter/" in line]


def test_a_development_request_is_logged_once():
    assert len(log_lines()) == 1


def test_json_logs_are_one_object_per_line():
    (line,) = log_lines(LOG_FORMAT="json")
    event = json.loads(line)
    assert event["level"] == "INFO"
    assert event["logger"] == "django.channels.server"
    assert event["message"] == "HTTP GET /enter/ 200 [0.01, x]"


def test_an_unknown_log_format_stops_start_up():
    with pytest.raises(subprocess.CalledProcessError) as failed:
        log_lines(LOG_FORMAT="xml")
    assert "LOG_FORMAT must be" in failed.value.stderr
