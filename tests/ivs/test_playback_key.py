"""manage.py ivs_playback_key: a P-384 pair, the private key in a mode-600 file only, the
public key printed or imported into IVS (the stand-in, through boto3)."""

import stat
from io import StringIO

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import CommandError, call_command

from ivs import keys


def run(*args: str) -> str:
    out = StringIO()
    call_command("ivs_playback_key", *args, stdout=out)
    return out.getvalue()


def test_it_writes_a_p384_private_key_readable_by_its_owner_only(tmp_path, settings):
    path = tmp_path / "playback.pem"
    out = run(str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings.IVS_PLAYBACK_PRIVATE_KEY = f"file:{path}"
    key = keys.private_key()
    assert isinstance(key.curve, ec.SECP384R1)
    assert keys.public_pem(key) in out
    assert "PRIVATE KEY" not in out
    assert f"IVS_PLAYBACK_PRIVATE_KEY=file:{path}" in out


def test_it_never_overwrites_a_key_unless_told(tmp_path):
    path = tmp_path / "playback.pem"
    path.write_text("an existing key")
    with pytest.raises(CommandError, match="exists"):
        run(str(path))
    assert path.read_text() == "an existing key"
    path.chmod(0o644)
    run(str(path), "--force")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_it_imports_the_public_key_and_ivs_then_accepts_its_tokens(standin, tmp_path, settings):
    path = tmp_path / "playback.pem"
    out = run(str(path), "--import", "--name", "site-key", "--region", "us-west-2")
    imported = [c for c in standin.calls if c.operation == "ImportPlaybackKeyPair"]
    assert len(imported) == 1
    assert imported[0].body["name"] == "site-key"
    assert "PRIVATE" not in imported[0].body["publicKeyMaterial"]
    arn = next(pair.arn for pair in standin.state.keys.values() if pair.name == "site-key")
    assert f"IVS_PLAYBACK_KEY_ARN={arn}" in out

    settings.IVS_PLAYBACK_PRIVATE_KEY = f"file:{path}"
    token = jwt.encode({"exp": 1}, keys.private_key(), algorithm="ES384")
    pair = standin.state.keys[arn]
    assert jwt.decode(token, pair.public_key, algorithms=["ES384"], options={"verify_exp": False})


def test_a_refused_import_keeps_the_private_key_and_says_why(standin, tmp_path):
    standin.fail_next("ImportPlaybackKeyPair", "ServiceQuotaExceededException")
    path = tmp_path / "playback.pem"
    with pytest.raises(CommandError, match="ServiceQuotaExceededException") as refused:
        run(str(path), "--import")
    assert path.exists()
    assert "BEGIN PUBLIC KEY" in str(refused.value)
    assert "PRIVATE" not in str(refused.value)
