"""The shared store: saved scenarios and rooms, against fakeredis and a real Redis server alike.

Values in Redis are signed, versioned JSON: anything written by someone else, too large, malformed,
or replayed is refused with a message and changes nothing. Wrong PINs are rate limited.
"""

import hashlib
import hmac
import json

import fakeredis
import pytest
import redis

from dashboard.store import (PIN_ATTEMPTS, Follower, Store, StoreRejected, StoreUnavailable, check_code,
                             hash_pin)
from engine import load_preset, scenario_to_data
from tests.redis_server import RedisServer, free_port

SECRET = b"test secret"


@pytest.fixture(params=["fakeredis", "redis-server"])
def store(request, tmp_path):
    """A store on fakeredis, and the same on a real redis-server started for the test."""
    if request.param == "fakeredis":
        yield Store(fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True), SECRET, "embedded")
        return
    server = RedisServer(tmp_path).start()
    client = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=1, socket_connect_timeout=1)
    try:
        yield Store(client, SECRET, server.url)
    finally:
        server.kill()


def window(t: float, **extra) -> dict:
    """A metrics window as the engine makes them (a nested part is left out when published)."""
    return {"t_start_s": t - 1, "t_end_s": t, "arrivals": 5, "instances": {"web-0": {}}, **extra}


def test_a_saved_scenario_loads_back_with_its_summary_and_expires(store):
    data = scenario_to_data(load_preset("genai_stack"))
    saved_id = store.save_scenario(data, {"latency_p95_s": 4.2}, ttl_s=3600)
    loaded = store.load_scenario(saved_id)
    assert loaded["scenario"] == data and loaded["summary"] == {"latency_p95_s": 4.2}
    assert 3590 < store.redis.ttl(f"gsl:scenario:{saved_id}") <= 3600
    with pytest.raises(StoreRejected, match="saved scenario 22222222: not found"):
        store.load_scenario("22222222")
    with pytest.raises(StoreRejected, match=r"saved scenario id: '\.\./x' is not allowed"):
        store.load_scenario("../x")


@pytest.mark.parametrize("tamper, message", [
    (lambda raw: raw.replace("round_robin", "least_connections"), "signature does not match"),
    (lambda raw: "not json", "malformed"),
    (lambda raw: json.dumps({"payload": 1}), "malformed"),
    (lambda raw: "x" * 600_000, "600,000 bytes is not allowed"),
    (lambda raw: Store(None, b"another app", "").\
        _sign("scenario", "abcdefgh", json.loads(json.loads(raw)["payload"])["body"]), "signature does not match"),
])
def test_a_tampered_value_is_refused_with_a_message(store, tamper, message):
    saved_id = store.save_scenario(scenario_to_data(load_preset("horizontal_load_balancer")))
    key = f"gsl:scenario:{saved_id}"
    store.redis.set(key, tamper(store.redis.get(key)).replace("abcdefgh", saved_id))
    with pytest.raises(StoreRejected, match=message):
        store.load_scenario(saved_id)


def test_a_value_of_another_schema_version_or_place_is_refused(store):
    payload = json.dumps({"v": 2, "kind": "scenario", "scope": "aaaaaaaa", "seq": 0, "body": {}})
    signed = json.dumps({"payload": payload, "mac": hmac.new(SECRET, payload.encode(), hashlib.sha256).hexdigest()})
    store.redis.set("gsl:scenario:aaaaaaaa", signed)
    with pytest.raises(StoreRejected, match="schema version 2 is not allowed: this app reads 1"):
        store.load_scenario("aaaaaaaa")
    moved = store.redis.get(f"gsl:scenario:{store.save_scenario({})}")
    store.redis.set("gsl:scenario:bbbbbbbb", moved)  # a valid value copied under another id
    with pytest.raises(StoreRejected, match="is not allowed here"):
        store.load_scenario("bbbbbbbb")


def test_the_pin_is_stored_only_as_a_salted_hash_and_wrong_pins_are_rate_limited(store):
    code, token = store.open_room("4711")
    raw = store.redis.get(f"gsl:room:{code}")
    assert "4711" not in raw and token not in raw
    record = store._room(code)
    assert record["pin_hash"] == hash_pin("4711", bytes.fromhex(record["salt"]))
    for _ in range(PIN_ATTEMPTS):
        with pytest.raises(StoreRejected, match=f"PIN: is not the PIN of room {code}"):
            store.claim_room(code, "0000")
    with pytest.raises(StoreRejected, match="too many wrong attempts"):
        store.claim_room(code, "4711")  # even the right one, until the minute is over
    store.redis.delete(f"gsl:room:{code}:pin_fails")
    new_token = store.claim_room(code, "4711")
    with pytest.raises(StoreRejected, match="control is not allowed: it needs the presenter's PIN"):
        store.publish(code, token, {"run": 1}, [])  # the old tab lost control
    assert store.publish(code, new_token, {"run": 1}, []) == 1


@pytest.mark.parametrize("pin", ["12", "abcd", "1234567890123", ""])
def test_a_pin_must_be_4_to_12_digits(store, pin):
    with pytest.raises(StoreRejected, match="PIN: is not allowed: use 4 to 12 digits"):
        store.open_room(pin)


def test_learners_follow_every_change_in_order_and_a_reconnect_loses_nothing(store):
    code, token = store.open_room("1234")
    learner = Follower(store, code.lower())
    assert not learner.poll() and learner.state is None
    for t in range(1, 6):
        store.publish(code, token, {"run": 1, "step": t}, [window(float(t))])
        if t % 2:
            learner.poll()
    learner.poll()
    assert learner.state["step"] == 5 and [w["t_end_s"] for w in learner.windows] == [1, 2, 3, 4, 5]
    assert "instances" not in learner.windows[0]
    late = Follower(store, code)  # a learner who reconnects starts from the room's history
    late.poll()
    assert late.windows == learner.windows and late.state == learner.state
    store.publish(code, token, {"run": 2, "step": 1}, [window(1.0)])  # the presenter restarted
    learner.poll()
    assert [w["t_end_s"] for w in learner.windows] == [1] and learner.state["run"] == 2


def test_forged_and_replayed_control_messages_change_nothing(store):
    code, token = store.open_room("1234")
    learner = Follower(store, code)
    store.publish(code, token, {"run": 1, "step": 1}, [window(1.0)])
    old_state = store.redis.get(f"gsl:room:{code}:state")
    old_window = store.redis.xrange(f"gsl:room:{code}:windows")[0][1]
    store.publish(code, token, {"run": 1, "step": 2}, [window(2.0)])
    learner.poll()
    with pytest.raises(StoreRejected, match="needs the presenter's PIN"):
        store.publish(code, "forged", {"run": 1, "step": 9}, [window(3.0)])
    store.redis.xadd(f"gsl:room:{code}:windows", old_window)  # a replayed window: not after what is drawn
    learner.poll()
    assert [w["t_end_s"] for w in learner.windows] == [1, 2]
    store.redis.set(f"gsl:room:{code}:state", old_state)  # a replayed state: older than the one shown
    with pytest.raises(StoreRejected, match="older than 2 \\(replayed\\)"):
        learner.poll()
    assert learner.state["step"] == 2
    forged = Store(store.redis, b"not the app's secret", "")._sign("state", code, {"run": 1, "step": 7}, 99)
    store.redis.set(f"gsl:room:{code}:state", forged)
    with pytest.raises(StoreRejected, match="signature does not match"):
        learner.poll()
    assert learner.state["step"] == 2


def test_a_room_expires_when_idle_and_a_closed_room_says_so(store):
    code, token = store.open_room("1234", idle_s=120)
    store.publish(code, token, {"run": 1}, [window(1.0)])
    assert all(0 < store.redis.ttl(f"gsl:room:{code}{part}") <= 120 for part in ("", ":state", ":windows", ":seq"))
    store.close_room(code, token)
    with pytest.raises(StoreRejected, match=f"room {code}: not found"):
        Follower(store, code).poll()


@pytest.mark.parametrize("code", ["", "ABC", "ABCDE0", "ABCDEFG", "../../"])
def test_a_malformed_room_code_is_refused(code):
    with pytest.raises(StoreRejected, match="room code: .* is not allowed: 6 letters and digits"):
        check_code(code)


def test_an_unreachable_server_raises_unavailable_not_a_traceback():
    client = redis.Redis(port=free_port(), decode_responses=True, socket_connect_timeout=0.2)
    store = Store(client, SECRET, "127.0.0.1:closed")
    assert not store.ping()
    with pytest.raises(StoreUnavailable, match=r"shared state \(127.0.0.1:closed\) is unreachable"):
        store.save_scenario({})


def test_a_killed_server_loses_no_saved_scenario_and_the_store_recovers(tmp_path):
    server = RedisServer(tmp_path).start()
    client = redis.Redis.from_url(server.url, decode_responses=True, socket_timeout=1, socket_connect_timeout=0.5)
    store = Store(client, SECRET, server.url)
    saved_id = store.save_scenario({"name": "kept"})
    server.kill()
    with pytest.raises(StoreUnavailable):
        store.load_scenario(saved_id)
    RedisServer(tmp_path, server.port).start()
    try:
        assert store.load_scenario(saved_id)["scenario"] == {"name": "kept"}  # same client, reconnected
    finally:
        server.process = None
        redis.Redis(port=server.port).shutdown(nosave=True)
