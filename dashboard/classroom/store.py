"""Shared state on Redis: saved scenarios and classroom rooms, as versioned, signed JSON.

Everything several sessions share goes through here: a scenario a team saved under a short id, and
the rooms an instructor presents in. By default the store is an embedded fakeredis (one FakeServer
per app process, so `make run` needs no server); with REDIS_URL set, it is that Redis server, which
every app process behind a proxy shares.

Nothing read from Redis is trusted. Values are JSON (never pickle) in an envelope with a schema
version, checked for size before they are parsed, validated, and signed with the app's secret
(GSL_SECRET, shared by every process of one deployment), so a value written to Redis by anyone
else is refused with a message and changes nothing, and a learner ignores a state or window older
than one it already shows (a replay). Room messages are signed for one room (its code and a nonce),
so nothing from an earlier room with the same code is accepted. A bad entry is skipped, never a
reason to stop following. (Someone who can write to Redis could still show a learner who has just
joined an older, genuine state of the same room: only state held outside Redis could prevent that.) A
presenter's PIN is stored only as a scrypt hash salted per room and peppered with the secret;
controlling a room takes a random token that lives only in the presenter's own session, handed out
for the right PIN (or the room's recovery key). PIN tries, joins, saves and rooms are counted in
Redis per client and overall (`LIMITS`), and a counter or a room part that something else replaced
is reset rather than trusted (docs/security.md).

When Redis is unreachable every call raises StoreUnavailable, which the app shows as a banner while
the local session (lessons, sandbox) goes on; redis-py reconnects by itself once it is back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import time
import zlib
from typing import Any
from urllib.parse import urlsplit

import redis

SCHEMA = 1
PREFIX = "gsl:"
MAX_VALUE_BYTES = 512_000  # a saved scenario with its summary, or one room message, is far smaller
MAX_SAVED_BYTES = 4_000_000  # a saved scenario with its traces (compressed): read once, when its link is opened
MAX_ATTACHMENT_BYTES = 5_000_000  # one attached trace once unpacked (engine/traces.py, MAX_TRACE_BYTES)
# An uploaded trace or a similarity curve (engine/curves.py), each named by its content.
ATTACHMENT_NAME = re.compile(r"^(upload-[0-9a-f]{24}\.csv|curve-[0-9a-f]{24})$")
SAVED_TTL_S = 30 * 86_400  # saved scenarios live 30 days unless saved again
ROOM_IDLE_S = int(os.environ.get("GSL_ROOM_IDLE_S", 2 * 3600))  # a room no presenter touched expires
ROOM_HISTORY = 600  # chart points (one per window) kept per room: what a learner who joins late can still draw
PIN_ATTEMPTS, PIN_LOCK_S = 5, 60  # PIN tries one client may make per room per minute
# Limits kept in Redis, so a reload or a new session does not reset them: (at most, per seconds). "client" is
# a hashed address (dashboard/classroom/shared.py, client_id); the "all" limits protect Redis's memory.
LIMITS = {
    "pin": (PIN_ATTEMPTS, PIN_LOCK_S),  # PIN tries by one client for one room
    "pin_room": (30, 60),  # PIN tries for one room by everyone: a crowd of strangers, not one, can slow it
    "join": (30, 60),  # room codes one client tries to follow
    "save": (20, 86_400),  # scenarios one client saves a day
    "save_bytes_all": (128_000_000, 86_400),  # bytes of saved scenarios a day, everyone: a quarter of a 512 MB Redis
    "room": (5, 86_400),  # rooms one client opens a day
    "room_all": (200, 86_400),  # rooms opened a day, everyone
}
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I: codes are read aloud and typed
ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
MAX_PREDICTIONS = 1000  # learners counted per experiment in one room
LEARNER_ID = re.compile(r"^[A-Za-z0-9_-]{8,40}$")
LESSON_SLUG = re.compile(r"^[0-9a-z-]{1,60}$")


class StoreUnavailable(RuntimeError):
    """Redis cannot be reached: shared features wait, the local session goes on."""


class StoreRejected(ValueError):
    """A value in Redis, or a request to change one, is refused; the message says why."""


def _short_id(alphabet: str, length: int) -> str:
    """Return a random id of `length` characters from `alphabet`."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def hash_pin(pin: str, salt: bytes, pepper: bytes = b"") -> str:
    """Return the scrypt hash of a PIN with `salt` and the app's `pepper`, hex (memory-hard: slow to guess offline)."""
    return hashlib.scrypt(pin.encode() + b"\0" + pepper, salt=salt, n=2**14, r=8, p=1, dklen=32).hex()


def check_pin(pin: str) -> str:
    """Return `pin` if it is an allowed presenter PIN, else raise StoreRejected saying what is allowed."""
    if not (isinstance(pin, str) and pin.isdigit() and 6 <= len(pin) <= 12):
        raise StoreRejected("PIN: is not allowed: use 6 to 12 digits")
    return pin


def shown(text: str) -> str:
    """Return user-typed `text` safe to echo in a message: letters and digits only (no markdown, no links)."""
    return "".join(c if c.isalnum() else "?" for c in str(text)[:20])


def check_code(code: str) -> str:
    """Return a room code in canonical form, or raise StoreRejected."""
    code = (code or "").strip().upper()
    if len(code) != 6 or any(c not in CODE_ALPHABET for c in code):
        raise StoreRejected(f"room code: '{shown(code)}' is not allowed: 6 letters and digits, as shown by the presenter")
    return code


def safe_url(url: str) -> str:
    """Return a Redis URL without its user, password or query (what messages may show)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def is_summary(value: Any) -> bool:
    """Return whether `value` is a results summary as the Sandbox saves one: None, or at most 200 named figures, each a
    finite number or None (a page formats each one as a number: "soon" would crash it)."""
    if value is None:
        return True
    return isinstance(value, dict) and len(value) <= 200 and all(
        isinstance(name, str) and len(name) <= 60
        and (figure is None or (isinstance(figure, (int, float)) and not isinstance(figure, bool)
                                and abs(figure) < float("inf") and figure == figure))
        for name, figure in value.items())


def _loads(raw) -> Any:
    """Parse JSON read from Redis; a value nested too deep for the parser is a ValueError like any malformed one."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deep") from None


class Store:
    """Saved scenarios and rooms in one Redis database."""

    def __init__(self, client: redis.Redis, secret: bytes, where: str, secret_is_shared: bool = True):
        """Use `client` (decode_responses=True), signing with `secret`; `where` names the server in messages."""
        self.redis = client
        self._secret = secret
        self.where = where
        self.secret_is_shared = secret_is_shared  # False: other processes cannot read what this one signs

    @classmethod
    def from_env(cls) -> "Store":
        """Return the store REDIS_URL names, or an embedded fakeredis server for this process."""
        secret = os.environ.get("GSL_SECRET", "").encode() or secrets.token_bytes(32)
        url = os.environ.get("REDIS_URL")
        if url:
            client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=1.0,
                                          socket_connect_timeout=1.0, retry_on_timeout=False)
            return cls(client, secret, safe_url(url), bool(os.environ.get("GSL_SECRET")))
        import fakeredis

        return cls(fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True), secret, "embedded")

    # --- plumbing -----------------------------------------------------------------------------

    def _call(self, function, *args, **kwargs):
        """Run one Redis call, turning a lost connection into StoreUnavailable."""
        try:
            return function(*args, **kwargs)
        except redis.RedisError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: redis.RedisError) -> StoreUnavailable:
        """Return the StoreUnavailable that says what a Redis error means for the app."""
        if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
            return StoreUnavailable(f"shared state ({self.where}) is unreachable: {exc}")
        return StoreUnavailable(f"shared state ({self.where}) refused the request: {exc}")  # out of memory, ...

    def client_key(self, address: str) -> str:
        """Return the id the limits count a client by: its address, hashed with the secret (never kept raw)."""
        return hmac.new(self._secret, address.encode("utf-8", errors="replace"), hashlib.sha256).hexdigest()[:16]

    def _healing(self, keys: list[str], function, *args, **kwargs):
        """Run one Redis call; if a key it touches holds a value of another type or form (written by something
        else: WRONGTYPE, not an integer), delete those keys and run it once more. A room's parts are rebuilt by
        the presenter's next publish, so the room heals instead of failing until it expires."""
        try:
            return function(*args, **kwargs)
        except redis.ResponseError:
            self._call(self.redis.delete, *keys)
        except redis.RedisError as exc:
            raise self._unavailable(exc) from None
        return self._call(function, *args, **kwargs)

    def take(self, limit: str, who: str, amount: int = 1, what: str | None = None) -> None:
        """Count `amount` against `LIMITS[limit]` for `who` (a client id, a room, or "all"); raise StoreRejected
        past the limit, saying how long to wait.

        The count lives in Redis with the limit's window as its expiry. A value there that is not a count
        this app keeps (another type, not a whole number, negative, huge, or without expiry) was written by
        something else: it is reset, never trusted, so it can neither lock anyone out for good nor grant
        more tries.
        """
        cap, window_s = LIMITS[limit]
        key = f"{PREFIX}limit:{limit}:{who}"
        for _ in range(2):
            try:
                with self.redis.pipeline(transaction=True) as pipe:
                    pipe.set(key, 0, ex=window_s, nx=True)  # the window starts with the first count
                    pipe.incrby(key, amount)
                    pipe.ttl(key)
                    _, used, wait = pipe.execute()
            except redis.ResponseError:  # another type, or not a whole number: reset it
                self._call(self.redis.delete, key)
                continue
            except redis.RedisError as exc:
                raise self._unavailable(exc) from None
            if not amount <= used <= cap + 10**9 or not 0 < wait <= window_s:  # tampered with: start afresh
                self._call(self.redis.set, key, amount, ex=window_s)
                used, wait = amount, window_s
            if used > cap:
                raise StoreRejected(f"{what or limit}: too many: try again in {max(int(wait), 1)} s")
            return
        raise StoreUnavailable(f"shared state ({self.where}) keeps a wrong value under {key}")

    def ping(self) -> bool:
        """Return whether Redis answers."""
        try:
            return bool(self._call(self.redis.ping))
        except StoreUnavailable:
            return False

    def _sign(self, kind: str, scope: str, body: Any, seq: int = 0) -> str:
        """Return the signed JSON envelope of `body`."""
        payload = json.dumps({"v": SCHEMA, "kind": kind, "scope": scope, "seq": seq, "body": body},
                             separators=(",", ":"), sort_keys=True, allow_nan=False)
        mac = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
        return json.dumps({"payload": payload, "mac": mac}, separators=(",", ":"))

    def _open(self, raw: str | None, kind: str, scope: str, limit: int = MAX_VALUE_BYTES) -> tuple[Any, int] | None:
        """Return (body, seq) of a signed envelope read from Redis, or raise StoreRejected saying what is wrong."""
        if raw is None:
            return None
        if len(raw) > limit:
            raise StoreRejected(f"{kind}: {len(raw):,} bytes is not allowed: at most {limit:,}")
        try:
            outer = _loads(raw)
            payload, mac = outer["payload"], outer["mac"]
            expected = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
        except (ValueError, KeyError, TypeError, AttributeError):
            raise StoreRejected(f"{kind}: is not allowed: not a value this app wrote (malformed)") from None
        if not isinstance(mac, str) or not hmac.compare_digest(mac, expected):
            raise StoreRejected(f"{kind}: is not allowed: its signature does not match (written by something else)")
        try:
            inner = _loads(payload)
        except ValueError:
            raise StoreRejected(f"{kind}: is not allowed: not a value this app wrote (malformed)") from None
        if not isinstance(inner, dict) or not isinstance(inner.get("seq"), int) or isinstance(inner.get("seq"), bool):
            raise StoreRejected(f"{kind}: is not allowed: not a value this app wrote (malformed)")
        if inner.get("v") != SCHEMA:
            raise StoreRejected(f"{kind}: schema version {shown(repr(inner.get('v')))} is not allowed: this app reads "
                                f"{SCHEMA}")
        if inner.get("kind") != kind or inner.get("scope") != scope:
            raise StoreRejected(f"{kind}: is not allowed here: it was written for another {kind} or room")
        return inner["body"], inner["seq"]

    # --- saved scenarios ------------------------------------------------------------------------

    def save_scenario(self, scenario: dict, summary: dict | None = None, ttl_s: int = SAVED_TTL_S,
                      client: str = "anonymous", attachments: dict[str, str] | None = None) -> str:
        """Save scenario data (and optionally a results summary and the traces and similarity curves it names,
        {name: CSV text}) under a new short id; return the id.

        Counted against the client's saves a day and everyone's bytes a day (LIMITS), in Redis.
        """
        if not is_summary(summary):
            raise StoreRejected("summary: is not allowed: named figures, each a number or null")
        packed = {}
        for name, text in (attachments or {}).items():
            if not (isinstance(name, str) and ATTACHMENT_NAME.match(name) and isinstance(text, str)):
                raise StoreRejected(f"attachment: '{shown(name)}' is not allowed: an uploaded trace's name and text, "
                                    "or a similarity curve's")
            packed[name] = base64.b64encode(zlib.compress(text.encode(), 6)).decode()
        body = {"scenario": scenario, "summary": summary, "saved_at": time.time(), "attachments": packed}
        limit = MAX_SAVED_BYTES if packed else MAX_VALUE_BYTES
        for _ in range(10):
            saved_id = _short_id(ID_ALPHABET, 8)
            key = f"{PREFIX}scenario:{saved_id}"
            value = self._sign("scenario", saved_id, body)
            if len(value) > limit:
                raise StoreRejected(f"scenario: {len(value):,} bytes is not allowed: at most {limit:,}"
                                    + (" (with its traces, compressed)" if packed else ""))
            if _ == 0:
                self.take("save", client, what="saved scenarios from this address today")
                self.take("save_bytes_all", "all", len(value), what="saved scenarios today, from everyone")
            if self._call(self.redis.set, key, value, ex=ttl_s, nx=True):
                return saved_id
        raise StoreUnavailable("could not find a free id for the scenario")  # 31^8 ids: practically never

    def load_scenario(self, saved_id: str) -> dict:
        """Return {scenario, summary, saved_at, attachments: {name: CSV text}} saved under `saved_id`, or raise
        StoreRejected."""
        saved_id = (saved_id or "").strip()
        if len(saved_id) != 8 or any(c not in ID_ALPHABET for c in saved_id):
            raise StoreRejected(f"saved scenario id: '{shown(saved_id)}' is not allowed: 8 characters as in the link")
        key = f"{PREFIX}scenario:{saved_id}"
        opened = self._open(self._healing([key], self.redis.get, key), "scenario", saved_id, MAX_SAVED_BYTES)
        if opened is None:
            raise StoreRejected(f"saved scenario {saved_id}: not found (it may have expired)")
        body = opened[0]
        malformed = StoreRejected(f"saved scenario {saved_id}: is not allowed: not a value this app wrote (malformed)")
        if not isinstance(body, dict) or not isinstance(body.get("scenario"), dict) \
                or not is_summary(body.get("summary")) \
                or not isinstance(body.get("attachments", {}), dict):
            raise malformed
        attachments = {}
        for name, packed in body.get("attachments", {}).items():
            if not (ATTACHMENT_NAME.match(name) and isinstance(packed, str)):
                raise malformed
            try:
                unpacker = zlib.decompressobj()
                text = unpacker.decompress(base64.b64decode(packed, validate=True), MAX_ATTACHMENT_BYTES + 1)
                if unpacker.unconsumed_tail or len(text) > MAX_ATTACHMENT_BYTES:
                    raise ValueError("too large once unpacked")
                attachments[name] = text.decode("utf-8")
            except (binascii.Error, zlib.error, ValueError):
                raise malformed from None
        body["attachments"] = attachments
        return body

    # --- rooms ----------------------------------------------------------------------------------

    def _room_key(self, code: str, part: str = "") -> str:
        """Return the key of a room's record, or of one of its parts."""
        return f"{PREFIX}room:{code}" + (f":{part}" if part else "")

    def open_room(self, pin: str, idle_s: int = ROOM_IDLE_S, client: str = "anonymous") -> tuple[str, str, str]:
        """Open a room guarded by `pin`; return (its code, the presenter's control token, a recovery key).

        The recovery key takes control back without the PIN and past every PIN limit (a crowd guessing
        the PIN cannot lock the presenter out): 128 random bits, shown to the presenter once, stored
        only as a hash. Counted against the client's rooms a day and everyone's (LIMITS).
        """
        check_pin(pin)
        self.take("room", client, what="rooms opened from this address today")
        self.take("room_all", "all", what="rooms opened today, from everyone")
        salt = secrets.token_bytes(16)
        token, recovery = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
        for _ in range(20):
            code = _short_id(CODE_ALPHABET, 6)
            record = {"salt": salt.hex(), "pin_hash": hash_pin(pin, salt, self._secret), "idle_s": idle_s,
                      "nonce": secrets.token_hex(8), "recovery_hash": hashlib.sha256(recovery.encode()).hexdigest(),
                      "token_hash": hashlib.sha256(token.encode()).hexdigest(), "opened_at": time.time()}
            if self._call(self.redis.set, self._room_key(code), self._sign("room", code, record), ex=idle_s, nx=True):
                return code, token, recovery
        raise StoreUnavailable("could not find a free room code")

    def _room(self, code: str) -> dict:
        """Return a room's record, or raise StoreRejected if there is none (or something else replaced it)."""
        try:
            raw = self._call(self.redis.get, self._room_key(code))
        except StoreUnavailable:
            if self._call(self.redis.type, self._room_key(code)) in ("none", "string"):
                raise
            self._call(self.redis.delete, self._room_key(code))  # not a record this app wrote: the code is free again
            raise StoreRejected(f"room {code}: its record in shared state was replaced by something else, and is "
                                "removed: open a new room") from None
        opened = self._open(raw, "room", code)
        if opened is None:
            raise StoreRejected(f"room {code}: not found (it may have closed or expired)")
        return opened[0]

    def claim_room(self, code: str, pin: str, client: str = "anonymous", recovery: str | None = None) -> str:
        """Return a new control token for the room if `pin` (or its recovery key) is right.

        Every PIN try is counted before the PIN is checked, atomically, in Redis: PIN_ATTEMPTS a minute
        per client and room, and more per room from everyone. A stranger's wrong guesses use up the
        stranger's tries, not the presenter's; a crowd's can slow the room, and then the recovery key,
        which no limit stops (it cannot be guessed), takes control back.
        """
        code = check_code(code)
        record = None
        if recovery:
            record = self._room(code)
            given = hashlib.sha256(recovery.encode()).hexdigest() if isinstance(recovery, str) else ""
            if not hmac.compare_digest(given, str(record.get("recovery_hash", ""))):
                record = None  # a wrong key counts as a PIN try below
        if record is None:
            self.take("pin", f"{code}:{client}", what=f"PIN tries for room {code}")
            self.take("pin_room", code, what=f"PIN tries for room {code} (from everyone; its recovery key still works)")
            record = self._room(code)
            given = hash_pin(pin, bytes.fromhex(record["salt"]), self._secret) if isinstance(pin, str) else ""
            if not hmac.compare_digest(given, record["pin_hash"]):
                raise StoreRejected(f"PIN: is not the PIN of room {code}")
        token = secrets.token_urlsafe(32)
        record["token_hash"] = hashlib.sha256(token.encode()).hexdigest()  # the previous presenter tab loses control
        self._call(self.redis.set, self._room_key(code), self._sign("room", code, record), keepttl=True)
        return token

    def _check_token(self, code: str, token: str) -> dict:
        """Return the room's record if `token` controls it, else raise StoreRejected."""
        record = self._room(code)
        given = hashlib.sha256((token or "").encode()).hexdigest()
        if not hmac.compare_digest(given, record["token_hash"]):
            raise StoreRejected(f"room {code}: control is not allowed: it needs the presenter's PIN")
        return record

    def publish(self, code: str, token: str, state: dict, points: list[dict]) -> int:
        """As the room's presenter, publish its state and the chart points of the windows that closed since.

        Each point is a JSON mapping with its window's end time (`t_end_s`); returns the state's seq.
        """
        record = self._check_token(code, token)
        seq_key = self._room_key(code, "seq")
        seq = self._healing([seq_key], self.redis.incr, seq_key)
        if not 0 < seq < 2**53:  # a seq planted by something else (negative, huge): start the count again
            self._call(self.redis.set, seq_key, 1)
            seq = 1
        idle_s = int(record["idle_s"])
        scope = f"{code}:{record['nonce']}"  # this room, not an earlier one that had the same code
        signed_state = self._sign("state", scope, state, seq)
        if len(signed_state) > MAX_VALUE_BYTES:  # learners would refuse it: say so here instead
            raise StoreRejected(f"room state: {len(signed_state):,} bytes is not allowed: at most {MAX_VALUE_BYTES:,}")
        def send():
            with self.redis.pipeline() as pipe:
                for point in points:
                    pipe.xadd(self._room_key(code, "windows"),
                              {"m": self._sign("window", scope, {**point, "run": state["run"]}, seq)},
                              maxlen=ROOM_HISTORY, approximate=True)
                pipe.set(self._room_key(code, "state"), signed_state, ex=idle_s)
                for part in ("", "seq", "windows"):  # a presenter's activity keeps the room open
                    pipe.expire(self._room_key(code, part), idle_s)
                pipe.execute()

        self._healing([self._room_key(code, "windows")], send)
        return seq

    def read_room(self, code: str, after: str) -> tuple[str, str | None, list[tuple[str, dict]]]:
        """Return (the scope the room's messages are signed for, its raw state or None,
        [(stream id, raw fields)] after stream id `after`); the state and windows are not verified yet."""
        with self.redis.pipeline() as pipe:
            pipe.get(self._room_key(code))
            pipe.get(self._room_key(code, "state"))
            pipe.xrange(self._room_key(code, "windows"), min=f"({after}" if after != "0" else "-", count=ROOM_HISTORY)
            record, raw_state, entries = self._call(pipe.execute, raise_on_error=False)
        # A part of another type (written by something else) reads as absent: a learner waits for the
        # presenter's next publish, which replaces it, instead of failing.
        record, raw_state = (None if isinstance(v, redis.ResponseError) else v for v in (record, raw_state))
        entries = [] if isinstance(entries, redis.ResponseError) else entries
        if record is None:
            raise StoreRejected(f"room {code}: not found (it may have closed or expired)")
        opened = self._open(record, "room", code)
        return f"{code}:{opened[0]['nonce']}", raw_state, entries

    def open_value(self, raw: str | None, kind: str, scope: str) -> tuple[Any, int] | None:
        """Return (body, seq) of a signed value read from Redis, None if absent; raise StoreRejected if bad."""
        return self._open(raw, kind, scope)

    def predict(self, code: str, learner: str, lesson: str, step: int, choice: int) -> None:
        """Count a learner's prediction for one experiment of the room (a later choice replaces an earlier one).

        Only counts are ever read back (`tally`), never shown as text, so nothing here needs signing;
        the arguments are checked, and a room counts at most MAX_PREDICTIONS learners per experiment.
        """
        code = check_code(code)
        for name, value, ok in (("learner", learner, isinstance(learner, str) and LEARNER_ID.match(learner)),
                                ("lesson", lesson, isinstance(lesson, str) and LESSON_SLUG.match(lesson)),
                                ("step", step, type(step) is int and 0 <= step < 100),
                                ("choice", choice, type(choice) is int and 0 <= choice < 10)):
            if not ok:
                raise StoreRejected(f"prediction: {name} {shown(str(value))!r} is not allowed")
        record = self._room(code)
        key = self._room_key(code, f"predict:{lesson}:{step}")
        def count():
            with self.redis.pipeline() as pipe:
                pipe.hlen(key)
                pipe.hexists(key, learner)
                return pipe.execute()

        counted, known = self._healing([key], count)
        if counted >= MAX_PREDICTIONS and not known:
            raise StoreRejected(f"prediction: room {code} already counts {MAX_PREDICTIONS:,} learners for this step")
        with self.redis.pipeline() as pipe:
            pipe.hset(key, learner, choice)
            pipe.expire(key, int(record["idle_s"]))
            self._call(pipe.execute)

    def tally(self, code: str, lesson: str, step: int, choices: int) -> list[int]:
        """Return how many of the room's learners chose each of `choices` choices for one experiment.

        A value that is not one of the choices (written by anyone but `predict`) is not counted.
        """
        code = check_code(code)
        if not (isinstance(lesson, str) and LESSON_SLUG.match(lesson)) or type(step) is not int:
            return [0] * choices
        counts = [0] * choices
        key = self._room_key(code, f"predict:{lesson}:{step}")
        for value in self._healing([key], self.redis.hvals, key):
            if isinstance(value, str) and len(value) == 1 and value in "0123456789" and int(value) < choices:
                counts[int(value)] += 1
        return counts

    def close_room(self, code: str, token: str) -> None:
        """As the presenter, close the room: learners are told it closed."""
        self._check_token(code, token)
        self._call(self.redis.delete, *(self._room_key(code, part) for part in ("", "seq", "windows", "state")))


class Follower:
    """A learner's view of a room: the presenter's latest state and the chart points of the current run, in order.

    Each poll reads only what is new. A state older than one already seen (a replay), a point from
    another run or not after the last one, and anything that fails its checks are ignored, and
    `refused` says why; the next poll goes on from there, so one bad entry cannot stop a learner.
    """

    def __init__(self, store: Store, code: str):
        """Follow room `code` from its beginning."""
        self.store, self.code = store, check_code(code)
        self.after, self.seq, self.state = "0", 0, None
        self.windows: list[dict] = []  # chart points, one per window (dashboard/view/series.py)
        self.refused: list[str] = []  # what the last poll ignored, and why

    def poll(self) -> bool:
        """Read what the presenter published since the last poll; return whether anything changed."""
        scope, raw_state, entries = self.store.read_room(self.code, self.after)
        self.refused = []
        changed = False
        try:
            opened = self.store.open_value(raw_state, "state", scope)
        except StoreRejected as exc:
            opened = None
            self.refused.append(str(exc))
        if opened is not None and not isinstance(opened[0], dict):
            self.refused.append(f"room {self.code}: a state that is not a mapping: ignored")
            opened = None
        if opened is not None:
            state, seq = opened
            if seq < self.seq:
                self.refused.append(f"room {self.code}: state {seq} is older than {self.seq} (replayed): ignored")
            elif seq > self.seq:
                if self.state is not None and state.get("run") != self.state.get("run"):
                    self.windows = []  # the presenter started a new simulation
                self.state, self.seq, changed = state, seq, True
        run = self.state.get("run") if self.state else None
        for entry_id, fields in entries:
            self.after = entry_id  # past this entry, whatever it holds
            try:
                opened = self.store.open_value(fields.get("m"), "window", scope)
            except StoreRejected as exc:
                self.refused.append(str(exc))
                continue
            if opened is None:
                self.refused.append(f"room {self.code}: an entry without a window: ignored")
                continue
            window, seq = opened
            if not isinstance(window, dict):
                self.refused.append(f"room {self.code}: a window that is not a mapping: ignored")
                continue
            last = self.windows[-1]["t_end_s"] if self.windows else float("-inf")
            if window.get("run") != run or not isinstance(window.get("t_end_s"), (int, float)) \
                    or window["t_end_s"] <= last or seq > self.seq:
                continue  # another run's, or not after what is drawn (replayed): ignored
            self.windows.append(window)
            changed = True
        del self.windows[:-ROOM_HISTORY]
        return changed
