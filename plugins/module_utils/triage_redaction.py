# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redaction of secrets in text collected for a triage bundle.

A :class:`Redactor` replaces every secret it recognises with a token
``REDACTED-<12 hex>``: the first 12 hex digits of HMAC-SHA256(key, secret). The key
comes from the controller's obfuscation map, so the same secret becomes the same token
on every host and in every run that shares the map, without the hosts talking to each
other. The redactor remembers what it replaced (``found``: token -> secret) so the
controller can keep the mapping; that mapping never goes into a bundle.

What counts as a secret (:meth:`Redactor.redact`, applied in this order):

``private_key``
    the body of a PEM ``-----BEGIN ... PRIVATE KEY-----`` block (also a block cut off
    at either end of the text, as a tail read leaves it).
``url_password``
    the password in ``scheme://user:password@host``.
``auth_header``
    the credential after ``Bearer``, ``Basic``, ``Token`` or ``Digest`` when it looks
    generated (see :func:`looks_generated`).
``cloud_key``
    AWS access key ids, Google API keys, GitHub, Slack and Stripe tokens, JWTs.
``key_value``
    the value of a secret-looking key (:func:`is_secret_key`) in ``key=value``,
    ``key: value``, ``"key": "value"``, ``--key value`` / ``--key=value``, env files,
    INI and YAML lines, query strings and ``Key=value;`` connection strings.

:meth:`Redactor.sweep` is the catch-all run over every collected file before it
leaves the host: it replaces every literal secret found so far anywhere (a token first
seen in an env file is also caught in a log line that prints it bare), then runs
:meth:`redact` again. Tokens are never redacted twice.

This file runs on managed hosts: Python 3.8+, standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import re

TOKEN_PREFIX = "REDACTED-"
TOKEN_RE = re.compile(r"REDACTED-[0-9a-f]{12}")
_TOKEN_FULL_RE = re.compile(r"[\"']?REDACTED-[0-9a-f]{12}[\"']?\Z")
# Literal secrets shorter than this are not swept as bare words: too many false hits.
MIN_LITERAL = 6

# Key components that make a key secret on their own, and pairs that do together.
SECRET_WORDS = frozenset((
    "password", "passwd", "pwd", "pass", "passphrase", "secret", "secrets", "token", "credential",
    "credentials", "apikey", "accesskey", "secretkey", "privatekey", "accountkey", "sharedaccesskey",
    "clientsecret", "authtoken", "sessionkey", "authorization", "sig", "signature",
))
SECRET_PAIRS = frozenset((
    ("api", "key"), ("access", "key"), ("secret", "key"), ("private", "key"), ("account", "key"),
    ("signing", "key"), ("encryption", "key"), ("session", "key"), ("master", "key"), ("auth", "key"),
    ("client", "secret"), ("shared", "key"), ("license", "key"),
))
# A last component that says the value describes the secret rather than being it.
DESCRIPTIVE_SUFFIXES = frozenset((
    "file", "path", "dir", "length", "len", "min", "max", "count", "ttl", "expiry", "expires", "expiration",
    "timeout", "type", "policy", "required", "enabled", "hint", "prompt", "header", "field", "lifetime",
    "age", "rotation", "interval", "size", "algorithm", "format", "url", "endpoint", "id", "name", "mode",
    "strength", "minlength", "maxlength", "command", "cmd", "env", "var", "source", "store", "at", "version",
    "prompts", "attempts", "retries", "authentication", "reset", "changed", "updated",
))
# Values that are never secrets: placeholders, booleans, references to somewhere else.
_NON_SECRET_VALUE_RE = re.compile(
    r"(?i)(?:|\$|none|null|nil|true|false|yes|no|on|off|\*+|x+|-|redacted|hidden|masked|changeme|<[^>]*>"
    r"|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*\}\}|%\([^)]*\)s|\[redacted\]|\[hidden\])\Z"
)

_PEM_BLOCK_RE = re.compile(
    r"(-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----)(.*?)(-----END \2PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.S,
)
_PEM_TAIL_RE = re.compile(r"\A(.*?)(-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)", re.S)
_URL_PASSWORD_RE = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)([^:/@\s\"'<>]*):([^@/\s\"'<>]+)@")
_AUTH_RE = re.compile(r"\b(Bearer|Basic|Token|Digest)(\s+)([A-Za-z0-9\-._~+/]+=*)", re.I)
_CLOUD_RES = (
    re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
    re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}\b"),
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
)
_KEY = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_QUOTED = r"\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'"
# key = value on a line of its own (env files, INI, YAML, properties): the value runs to the end of the line.
_LINE_RE = re.compile(
    r"^([ \t]*(?:export[ \t]+|-[ \t]+)?)([\"']?)(" + _KEY + r")\2([ \t]*[=:][ \t]*)(" + _QUOTED + r"|[^\n]*?)([ \t]*)$",
    re.M,
)
# key=value / "key": "value" inside a longer line: the value ends at a space or separator.
# The value is matched in a lookahead: a pair whose key is not secret consumes only its
# key, so pairs inside its value ("msg": "login password=x") are still found.
_INLINE_RE = re.compile(
    r"(?<![A-Za-z0-9_.\-])([\"']?)(" + _KEY + r")\1(\s*[=:]\s*)(?=(" + _QUOTED + r"|[^\s;,&\"'<>()\[\]{}]+))"
)
# --key value / --key=value on a command line.
_FLAG_RE = re.compile(r"(?<!\S)(--?)([A-Za-z][A-Za-z0-9_\-]*)(=|[ \t]+)(?=(" + _QUOTED + r"|[^\s\"'-][^\s\"']*))")
_PAIRS_AFTER_RE = re.compile(r"\s[A-Za-z_][A-Za-z0-9_.\-]*[=:]")
# Every rule needs one of these (lower case) in the line it matches.
HINTS = ("pass", "pwd", "secret", "token", "key", "credential", "auth", "sig", "bearer", "basic", "digest", "://",
         "akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa", "aiza", "gh", "xox", "k_live", "k_test",
         "eyj")
_DELIMITER_RE = re.compile(r"[\s\"'=:;,&@<>()\[\]{}|\\]")
_WORD_RE = re.compile(r"[^\s\"'=:;,&@<>()\[\]{}|\\]+")
_SPLIT_RE = re.compile(r"[_.\-\s]+|(?<=[a-z0-9])(?=[A-Z])")


def hint_line_starts(text):
    """Sorted start offsets of the lines of ``text`` that hold one of :data:`HINTS`."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a character whose lower case is longer: offsets differ, check every line
        return [0] + [i + 1 for i, c in enumerate(text) if c == "\n" and i + 1 < len(text)]
    starts = set()
    for hint in HINTS:
        position = lowered.find(hint)
        while position >= 0:
            start = text.rfind("\n", 0, position) + 1
            starts.add(start)
            end = text.find("\n", position)
            if end < 0:
                break
            position = lowered.find(hint, end)
    return sorted(starts)


def key_components(key):
    """``"dbPassword_file"`` -> ``["db", "password", "file"]``."""
    return [part.lower() for part in _SPLIT_RE.split(key.strip("\"'")) if part]


def is_secret_key(key):
    """Whether a key names a secret value (and not a property of one, like its length or file)."""
    parts = key_components(key)
    if not parts or parts[-1] in DESCRIPTIVE_SUFFIXES:
        return False
    joined = "".join(parts)
    if joined in SECRET_WORDS:
        return True
    if any(part in SECRET_WORDS for part in parts):
        return True
    return any(pair in SECRET_PAIRS for pair in zip(parts, parts[1:]))


def looks_generated(value):
    """A credential-shaped string: 8+ characters with a digit, mixed case, or 32+ characters."""
    if len(value) < 8:
        return False
    if any(c.isdigit() for c in value):
        return True
    if any(c.isupper() for c in value) and any(c.islower() for c in value):
        return True
    return len(value) >= 32


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[0], value[1:-1], value[0]
    return "", value, ""


def is_secret_value(value):
    """Whether a value of a secret key is worth redacting (not a placeholder, reference or token)."""
    inner = _unquote(value.strip())[1].strip()
    return not _NON_SECRET_VALUE_RE.match(inner) and not _TOKEN_FULL_RE.match(inner)


class Redactor(object):
    """Replaces secrets with keyed tokens and remembers them.

    ``found``: token -> secret of everything replaced; ``counts``: kind -> replacements.
    """

    def __init__(self, key):
        if isinstance(key, str):
            key = key.encode("utf-8")
        if not key:
            raise ValueError("redaction key must not be empty")
        self._key = key
        self.found = {}
        self.counts = {}
        self._literals = {}

    def token(self, secret):
        digest = hmac.new(self._key, secret.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
        return TOKEN_PREFIX + digest[:12]

    def _replace(self, secret, kind):
        if not secret or TOKEN_RE.fullmatch(secret):
            return secret
        token = self.token(secret)
        self.found[token] = secret
        self._literals[secret] = token
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return token

    # --- the rules ----------------------------------------------------------------

    def _pem(self, text):
        def block(match):
            body = match.group(3)
            if not body.strip():
                return match.group(0)
            return match.group(1) + "\n" + self._replace(body.strip(), "private_key") + "\n" + match.group(4)

        tail = _PEM_TAIL_RE.match(text)
        if tail and "-----BEGIN" not in tail.group(1) and tail.group(1).strip():
            # A read that started inside a key block: everything before its END line is key.
            text = self._replace(tail.group(1).strip(), "private_key") + "\n" + text[tail.start(2):]
        return _PEM_BLOCK_RE.sub(block, text)

    def _url(self, text):
        return _URL_PASSWORD_RE.sub(
            lambda m: m.group(1) + m.group(2) + ":" + self._replace(m.group(3), "url_password") + "@", text)

    def _auth(self, text):
        def header(match):
            value = match.group(3)
            if not looks_generated(value) or TOKEN_RE.fullmatch(value):
                return match.group(0)
            return match.group(1) + match.group(2) + self._replace(value, "auth_header")
        return _AUTH_RE.sub(header, text)

    def _cloud(self, text):
        for pattern in _CLOUD_RES:
            text = pattern.sub(lambda m: self._replace(m.group(0), "cloud_key"), text)
        return text

    def _value(self, value):
        """The redacted form of a value, keeping its quotes."""
        opening, inner, closing = _unquote(value)
        return opening + self._replace(inner, "key_value") + closing

    def _lines(self, text):
        def line(match):
            key, value = match.group(3), match.group(5)
            if not is_secret_key(key) or not is_secret_value(value):
                return match.group(0)
            if not _unquote(value)[0] and _PAIRS_AFTER_RE.search(value):
                return match.group(0)  # "password=x user=y": a line of pairs, each judged inline
            if match.group(4).strip() == ":" and not match.group(2) and not _unquote(value)[0] and " " in value.strip():
                return match.group(0)  # "Password: must be 12 characters" is prose, not a YAML secret
            return match.group(1) + match.group(2) + key + match.group(2) + match.group(4) + \
                self._value(value) + match.group(6)
        return _LINE_RE.sub(line, text)

    def _values(self, pattern, text, secret):
        """Replace group 4 (a value in a lookahead) of every match ``secret(match)`` accepts."""
        parts, done = [], 0
        for match in pattern.finditer(text):
            start, end = match.span(4)
            if match.start() < done or not secret(match):
                continue
            parts.append(text[done:start])
            parts.append(self._value(match.group(4)))
            done = end
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)

    def _inline(self, text):
        def secret(match):
            key, separator, value = match.group(2), match.group(3), match.group(4)
            if not is_secret_key(key) or not is_secret_value(value):
                return False
            # "invalid token: expired" is prose; a quoted key or '=' is an assignment.
            return separator.strip() != ":" or bool(match.group(1)) or looks_generated(_unquote(value)[1])
        return self._values(_INLINE_RE, text, secret)

    def _flags(self, text):
        return self._values(_FLAG_RE, text,
                            lambda m: is_secret_key(m.group(2)) and is_secret_value(m.group(4)))

    # --- entry points ---------------------------------------------------------------

    def _line_rules(self, text):
        for rule in (self._url, self._auth, self._cloud, self._lines, self._inline, self._flags):
            text = rule(text)
        return text

    def redact(self, text):
        """``text`` with every recognised secret replaced by its token.

        Only lines holding one of :data:`HINTS` (case-insensitive) go through the rules,
        since every rule needs one; the others are copied as they are, which keeps
        redaction of large logs fast. A private key block is handled over the whole
        text first.
        """
        if "PRIVATE KEY" in text:
            text = self._pem(text)
        starts = hint_line_starts(text)
        if not starts:
            return text
        parts, done = [], 0
        for start in starts:
            if start < done:
                continue
            end = text.find("\n", start)
            end = len(text) if end < 0 else end + 1
            parts.append(text[done:start])
            parts.append(self._line_rules(text[start:end]))
            done = end
        parts.append(text[done:])
        return "".join(parts)

    def sweep(self, text):
        """The catch-all pass: every literal secret seen so far, then the rules again.

        Literals without a delimiter are looked up among the text's words (one pass,
        set intersection), so thousands of known secrets cost no more than a few; the
        rest are searched for directly. Returns ``(text, replacements)``.
        """
        before = sum(self.counts.values())
        hits = 0
        if self._literals:
            words = set(_WORD_RE.findall(text))
            present = [s for s in words.intersection(self._literals) if len(s) >= MIN_LITERAL]
            present += [s for s in self._literals if len(s) >= MIN_LITERAL and _DELIMITER_RE.search(s) and s in text]
            for secret in sorted(present, key=len, reverse=True):
                hits += text.count(secret)
                text = text.replace(secret, self._literals[secret])
        if hits:
            self.counts["sweep_literal"] = self.counts.get("sweep_literal", 0) + hits
        text = self.redact(text)
        return text, sum(self.counts.values()) - before
