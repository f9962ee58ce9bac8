"""Redaction: many secret shapes go, non-secret look-alikes stay, tokens are keyed and stable."""

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_redaction import (
    TOKEN_RE,
    Redactor,
    is_secret_key,
)

KEY = "0123456789abcdef" * 4

PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dV"

# (text, the secret that must disappear)
SECRETS = [
    ("DEMO_API_TOKEN=t0k3n-Abc-123456\n", "t0k3n-Abc-123456"),
    ("export DB_PASSWORD='correct horse battery staple'\n", "correct horse battery staple"),
    ("password = hunter2hunter2\n", "hunter2hunter2"),
    ("[db]\npasswd=Tr0ub4dor&3\n", "Tr0ub4dor&3"),
    ("client_secret: s3cr3t-value-xyz\n", "s3cr3t-value-xyz"),
    ('{"user": "bob", "password": "pa55w0rd!", "port": 5432}', "pa55w0rd!"),
    ("{'apiKey': 'ak-99887766554433'}", "ak-99887766554433"),
    ("GET /cb?code=1&access_token=ya29.a0AfH6SMBx9&state=ok HTTP/1.1", "ya29.a0AfH6SMBx9"),
    ("Authorization: Bearer eyJhbGciOi.J9x8Y7zQ1w2E3r4T", "eyJhbGciOi.J9x8Y7zQ1w2E3r4T"),
    ("curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZDEyMw=='", "dXNlcjpwYXNzd29yZDEyMw=="),
    ("postgresql://app:Sup3rS3cret@db.internal:5432/app", "Sup3rS3cret"),
    ("redis://:r3disPassw0rd@cache:6379/0", "r3disPassw0rd"),
    ("Server=db;Database=app;User Id=sa;Password=Adm1n!pass;Encrypt=true", "Adm1n!pass"),
    ("DefaultEndpointsProtocol=https;AccountName=x;AccountKey=bXlrZXlteWtleQ==;EndpointSuffix=core",
     "bXlrZXlteWtleQ=="),
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("using key AKIAJ7Q3EXAMPLE2ABCD for s3", "AKIAJ7Q3EXAMPLE2ABCD"),
    ("maps key=AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
    ("cloned with ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
    ("webhook xoxb-123456789012-abcdefghijkl", "xoxb-123456789012-abcdefghijkl"),
    ("charge with sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("worker --db-password=Pl4nted!Cmd --port 8080", "Pl4nted!Cmd"),
    ("worker --api-token 9f8e7d6c5b4a --verbose", "9f8e7d6c5b4a"),
    ("-----BEGIN RSA PRIVATE KEY-----\n" + PEM_BODY + "\n-----END RSA PRIVATE KEY-----\n", "VJTUt9Us8cKjMzEfYyjiWA4R4"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\n" + PEM_BODY + "\n", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"),
    (PEM_BODY + "\n-----END PRIVATE KEY-----\nnext line\n", "VJTUt9Us8cKjMzEfYyjiWA4R4"),
    ("  secret: 'quoted yaml secret'\n", "quoted yaml secret"),
    ("X-Api-Key: 7c9e6679-7425-40de-944b-e07fc1f90ae7\n", "7c9e6679-7425-40de-944b-e07fc1f90ae7"),
    ("2026-12-06T05:00:00Z login ok session_key=c2Vzc2lvbjEyMw user=alice", "c2Vzc2lvbjEyMw"),
    ("ENCRYPTION_KEY=0a1b2c3d4e5f60718293a4b5c6d7e8f9\n", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
    ("mysql://root:my%40pass12@10.0.0.5/db", "my%40pass12"),
    ("<password>xmlS3cret99</password> password=\"dq-Secret-77\"", "dq-Secret-77"),
]

# Text that looks secret-ish but is context a responder needs; it must survive unchanged.
LOOKALIKES = [
    "password_min_length = 12\n",
    "ssh -o NumberOfPasswordPrompts=1 -o PasswordAuthentication=no host\n",
    "token_ttl: 3600\n",
    "password_file=/etc/demo/db.pass\n",
    "api_key_path: /run/secrets/api\n",
    "max_tokens: 4096\n",
    "ERROR invalid token: expired\n",
    "Password: must be at least 12 characters long\n",
    "auth failed: bearer token missing\n",
    "Authorization required for POST /workflows\n",
    "sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n",
    "request_id=7c9e6679-7425-40de-944b-e07fc1f90ae7 status=200\n",
    "url=https://db.internal:5432/app?sslmode=require\n",
    "connect to http://user@host.example:8080/path\n",
    "password = ${DB_PASSWORD}\n",
    "DEMO_API_TOKEN=\n",
    "token_type: Bearer\n",
    "secret_enabled = true\n",
    "passwords rotated: 3 of 3\n",
    "keyboard=us layout key=value\n",
    "2026-12-06T05:00:00Z GET /workflows 200 12ms\n",
    "release 2.0.0 promoted; gate verdict=pass error_ratio=0.001\n",
    "Digest md5 mismatch\n",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n",
]


@pytest.mark.parametrize("text,secret", SECRETS)
def test_every_secret_shape_is_replaced_by_a_token(text, secret):
    redactor = Redactor(KEY)
    out = redactor.redact(text)
    assert secret not in out
    assert TOKEN_RE.search(out)
    assert secret in redactor.found.values() or any(secret in v for v in redactor.found.values())


@pytest.mark.parametrize("text", LOOKALIKES)
def test_non_secret_lookalikes_survive(text):
    redactor = Redactor(KEY)
    assert redactor.redact(text) == text
    assert redactor.found == {}


def test_context_around_a_secret_survives():
    out = Redactor(KEY).redact("2026-12-06T05:00:00Z db connect user=app password=hunter2hunter2 host=db1 port=5432")
    assert out.startswith("2026-12-06T05:00:00Z db connect user=app password=REDACTED-")
    assert out.endswith(" host=db1 port=5432")


def test_the_same_secret_gets_the_same_token_in_every_redactor_with_the_same_key():
    first, second = Redactor(KEY), Redactor(KEY)
    a = first.redact("DB_PASSWORD=Same-Secret-42\n")
    b = second.redact('{"db_password": "Same-Secret-42"}')
    token = first.token("Same-Secret-42")
    assert token in a and token in b
    assert Redactor("another key").token("Same-Secret-42") != token


def test_distinct_secrets_get_distinct_tokens():
    redactor = Redactor(KEY)
    out = redactor.redact("password=one-Secret-1 token=two-Secret-2")
    assert len(set(TOKEN_RE.findall(out))) == 2


def test_redaction_is_idempotent():
    redactor = Redactor(KEY)
    once = redactor.redact("password=hunter2hunter2 Authorization: Bearer abcDEF123456789")
    assert redactor.redact(once) == once


def test_quotes_are_kept_around_a_redacted_value():
    out = Redactor(KEY).redact('{"password": "pa55w0rd!"}')
    assert out.startswith('{"password": "REDACTED-') and out.endswith('"}')


def test_sweep_catches_a_known_secret_printed_bare_elsewhere():
    redactor = Redactor(KEY)
    redactor.redact("DEMO_API_TOKEN=bareword-secret\n")
    text, hits = redactor.sweep("starting with bareword-secret as credential\n")
    assert "bareword-secret" not in text
    assert hits == 1
    assert redactor.counts["sweep_literal"] == 1


def test_sweep_of_clean_text_changes_nothing():
    redactor = Redactor(KEY)
    redactor.redact("token=abcdef-123456")
    assert redactor.sweep("all good here\n") == ("all good here\n", 0)


@pytest.mark.parametrize("key,secret", [
    ("password", True), ("DB_PASSWORD", True), ("dbPassword", True), ("api_key", True), ("apiKey", True),
    ("X-Api-Key", True), ("aws_secret_access_key", True), ("AccountKey", True), ("client_secret", True),
    ("password_file", False), ("token_ttl", False), ("max_tokens", False), ("key", False), ("keyboard", False),
    ("primary_key", False), ("api_key_path", False), ("secret_enabled", False), ("token_type", False),
])
def test_secret_key_names(key, secret):
    assert is_secret_key(key) is secret


def test_an_empty_key_is_refused():
    with pytest.raises(ValueError, match="redaction key must not be empty"):
        Redactor("")


def test_sweep_with_thousands_of_known_secrets_finds_the_bare_ones():
    redactor = Redactor(KEY)
    redactor.redact("".join("password=Known-%05d\n" % i for i in range(3000)))
    text, hits = redactor.sweep("INFO retry with Known-01234 and Known-02999, then ok\n")
    assert "Known-0" not in text and hits == 2


def test_text_whose_lower_case_is_longer_is_still_redacted():
    out = Redactor(KEY).redact("İstanbul office\npassword=hunter2hunter2\n")
    assert "hunter2hunter2" not in out and out.startswith("İstanbul office\n")


def test_lines_without_a_hint_are_copied_unchanged():
    text = "GET /workflows 200 12ms\n" * 1000 + "token=abc123abc123\n"
    out = Redactor(KEY).redact(text)
    assert out.startswith("GET /workflows 200 12ms\n" * 1000) and "abc123abc123" not in out


@pytest.mark.parametrize("text,secret", [
    ("exec -a 'worker --db-password=Inner-Secret-1 --x' sleep 9", "Inner-Secret-1"),
    ('{"message": "login ok password=Inner-Secret-2 user=bob"}', "Inner-Secret-2"),
    ("msg='retry with token=Inner-Secret-3'", "Inner-Secret-3"),
])
def test_a_secret_inside_the_value_of_an_ordinary_key_is_found(text, secret):
    out = Redactor(KEY).redact(text)
    assert secret not in out and TOKEN_RE.search(out)
