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

from dashboard.classroom.store import (PIN_ATTEMPTS, Follower, Store, StoreRejected, StoreUnavailable, check_code,
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
    """A chart point as a room publishes them: a window's end time, the points of now and before."""
    return {"t_end_s": t, "now": {"t_end_s": t, "1": [5]}, "before": None, **extra}


def test_a_saved_scenario_loads_back_with_its_summary_and_expires(store):
    data = scenario_to_data(load_preset("genai_stack"))
    saved_id = store.save_scenario(data, {"latency_p95_s": 4.2}, ttl_s=3600)
    loaded = store.load_scenario(saved_id)
    assert loaded["scenario"] == data and loaded["summary"] == {"latency_p95_s": 4.2}
    assert 3590 < store.redis.ttl(f"gsl:scenario:{saved_id}") <= 3600
    with pytest.raises(StoreRejected, match="saved scenario 22222222: not found"):
        store.load_scenario("22222222")
    with pytest.raises(StoreRejected, match=r"saved scenario id: '\?\?\?x' is not allowed"):
        store.load_scenario("../x")


@pytest.mark.parametrize("tamper, message", [
    (lambda raw: raw.replace("round_robin", "least_connections"), "signature does not match"),
    (lambda raw: "not json", "malformed"),
    (lambda raw: json.dumps({"payload": 1}), "malformed"),
    (lambda raw: "x" * 4_100_000, "4,100,000 bytes is not allowed: at most 4,000,000"),
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


def test_a_crowd_guessing_the_pin_slows_the_room_but_the_recovery_key_takes_it_back(store):
    code, _, recovery = store.open_room("471147")
    for client in range(6):  # six strangers, five guesses each: past the room's 30 a minute
        for _ in range(5):
            with pytest.raises(StoreRejected):
                store.claim_room(code, "000000", client=f"stranger-{client}")
    with pytest.raises(StoreRejected, match="from everyone; its recovery key still works"):
        store.claim_room(code, "471147", client="presenter")
    with pytest.raises(StoreRejected, match="too many"):
        store.claim_room(code, "", client="presenter", recovery="a wrong key")  # a wrong key is one more PIN try
    token = store.claim_room(code, "", client="presenter", recovery=recovery)
    assert store.publish(code, token, {"run": 1}, []) == 1
    assert recovery not in store.redis.get(f"gsl:room:{code}")  # kept only as a hash


@pytest.mark.parametrize("planted", ["x", "-1000000000", "99999999999999999999", ("hash", {"a": 1}), ("list", ["a"])])
def test_a_limit_counter_planted_in_redis_is_reset_not_trusted(store, planted):
    key = "gsl:limit:join:someone"
    if isinstance(planted, tuple):
        (store.redis.hset(key, mapping=planted[1]) if planted[0] == "hash" else store.redis.rpush(key, *planted[1]))
    else:
        store.redis.set(key, planted)  # no expiry: once, this locked the PIN for good; -1e9 gave unlimited tries
    store.take("join", "someone")
    assert store.redis.get(key) == "1" and 0 < store.redis.ttl(key) <= 60
    for _ in range(29):
        store.take("join", "someone")
    with pytest.raises(StoreRejected, match="join: too many: try again in"):
        store.take("join", "someone")


def test_saves_and_rooms_are_capped_per_address_in_redis_not_in_the_browser_session(store):
    data = scenario_to_data(load_preset("genai_stack"))
    for _ in range(20):
        store.save_scenario(data, client="one address")
    with pytest.raises(StoreRejected, match="saved scenarios from this address today: too many"):
        store.save_scenario(data, client="one address")
    store.save_scenario(data, client="another address")
    for _ in range(5):
        store.open_room("123456", client="one address")
    with pytest.raises(StoreRejected, match="rooms opened from this address today: too many"):
        store.open_room("123456", client="one address")
    store.redis.set("gsl:limit:save_bytes_all:all", 128_000_000 - 10, keepttl=True)
    with pytest.raises(StoreRejected, match="saved scenarios today, from everyone: too many"):
        store.save_scenario(data, client="a third address")


def test_the_pin_is_stored_only_as_a_salted_hash_and_wrong_pins_are_rate_limited(store):
    code, token, _ = store.open_room("471147")
    raw = store.redis.get(f"gsl:room:{code}")
    assert "471147" not in raw and token not in raw
    record = store._room(code)
    assert record["pin_hash"] == hash_pin("471147", bytes.fromhex(record["salt"]), SECRET)
    assert record["pin_hash"] != hash_pin("471147", bytes.fromhex(record["salt"]))  # peppered: Redis alone is not enough
    for _ in range(PIN_ATTEMPTS):
        with pytest.raises(StoreRejected, match=f"PIN: is not the PIN of room {code}"):
            store.claim_room(code, "000000", client="stranger")
    with pytest.raises(StoreRejected, match=f"PIN tries for room {code}: too many: try again in"):
        store.claim_room(code, "471147", client="stranger")  # even the right one, until the minute is over
    assert 0 < store.redis.ttl(f"gsl:limit:pin:{code}:stranger") <= 60
    new_token = store.claim_room(code, "471147", client="presenter")  # a stranger's guesses do not lock the presenter out
    with pytest.raises(StoreRejected, match="control is not allowed: it needs the presenter's PIN"):
        store.publish(code, token, {"run": 1}, [])  # the old tab lost control
    assert store.publish(code, new_token, {"run": 1}, []) == 1


@pytest.mark.parametrize("pin", ["12", "4711", "abcdef", "1234567890123", ""])
def test_a_pin_must_be_6_to_12_digits(store, pin):
    with pytest.raises(StoreRejected, match="PIN: is not allowed: use 6 to 12 digits"):
        store.open_room(pin)


def test_learners_follow_every_change_in_order_and_a_reconnect_loses_nothing(store):
    code, token, _ = store.open_room("123456")
    learner = Follower(store, code.lower())
    assert not learner.poll() and learner.state is None
    for t in range(1, 6):
        store.publish(code, token, {"run": 1, "step": t}, [window(float(t))])
        if t % 2:
            learner.poll()
    learner.poll()
    assert learner.state["step"] == 5 and [w["t_end_s"] for w in learner.windows] == [1, 2, 3, 4, 5]
    assert learner.windows[0]["now"] == {"t_end_s": 1.0, "1": [5]}  # a point arrives whole
    late = Follower(store, code)  # a learner who reconnects starts from the room's history
    late.poll()
    assert late.windows == learner.windows and late.state == learner.state
    store.publish(code, token, {"run": 2, "step": 1}, [window(1.0)])  # the presenter restarted
    learner.poll()
    assert [w["t_end_s"] for w in learner.windows] == [1] and learner.state["run"] == 2


def test_forged_and_replayed_control_messages_change_nothing(store):
    code, token, _ = store.open_room("123456")
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
    learner.poll()
    assert learner.state["step"] == 2 and "older than 2 (replayed): ignored" in learner.refused[0]
    forged = Store(store.redis, b"not the app's secret", "")._sign("state", code, {"run": 1, "step": 7}, 99)
    store.redis.set(f"gsl:room:{code}:state", forged)
    learner.poll()
    assert learner.state["step"] == 2 and "signature does not match" in learner.refused[0]


def test_a_bad_entry_in_the_stream_is_skipped_and_following_goes_on(store):
    code, token, _ = store.open_room("123456")
    learner = Follower(store, code)
    store.publish(code, token, {"run": 1, "step": 1}, [window(1.0)])
    store.redis.xadd(f"gsl:room:{code}:windows", {"x": "no window here"})
    store.redis.xadd(f"gsl:room:{code}:windows", {"m": "not json"})
    store.publish(code, token, {"run": 1, "step": 2}, [window(2.0)])
    learner.poll()
    assert [w["t_end_s"] for w in learner.windows] == [1, 2] and len(learner.refused) == 2
    store.publish(code, token, {"run": 1, "step": 3}, [window(3.0)])
    learner.poll()
    assert [w["t_end_s"] for w in learner.windows] == [1, 2, 3] and not learner.refused


def test_a_state_too_large_for_learners_is_refused_at_the_presenter(store):
    code, token, _ = store.open_room("123456")
    with pytest.raises(StoreRejected, match="room state: .* bytes is not allowed: at most 512,000"):
        store.publish(code, token, {"run": 1, "dot": "x" * 600_000}, [])
    assert store.redis.get(f"gsl:room:{code}:state") is None


def test_a_room_expires_when_idle_and_a_closed_room_says_so(store):
    code, token, _ = store.open_room("123456", idle_s=120)
    store.publish(code, token, {"run": 1}, [window(1.0)])
    assert all(0 < store.redis.ttl(f"gsl:room:{code}{part}") <= 120 for part in ("", ":state", ":windows", ":seq"))
    store.close_room(code, token)
    with pytest.raises(StoreRejected, match=f"room {code}: not found"):
        Follower(store, code).poll()


@pytest.mark.parametrize("code", ["", "ABC", "ABCDE0", "ABCDEFG", "../../", "[A](HTTP://EVIL.CO)"])
def test_a_malformed_room_code_is_refused_and_echoed_harmlessly(code):
    with pytest.raises(StoreRejected, match="room code: .* is not allowed: 6 letters and digits") as error:
        check_code(code)
    assert not set("[]()/:.") & set(str(error.value).split("'")[1])


def test_messages_never_show_a_redis_password():
    from dashboard.classroom.store import safe_url

    assert safe_url("redis://user:s3cret@redis.internal:6380/2?password=also") == "redis://redis.internal:6380/2"


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


def test_a_state_from_another_room_is_refused_even_when_genuine(store):
    first, first_token, _ = store.open_room("123456")
    second, second_token, _ = store.open_room("123456")
    store.publish(first, first_token, {"run": 1, "step": 9}, [window(1.0)])
    store.publish(second, second_token, {"run": 1, "step": 1}, [])
    learner = Follower(store, second)
    store.redis.set(f"gsl:room:{second}:state", store.redis.get(f"gsl:room:{first}:state"))
    learner.poll()
    assert learner.state is None and "is not allowed here" in learner.refused[0]


def test_a_rooms_predictions_are_counted_once_per_learner_and_only_as_counts(store):
    code, _, _ = store.open_room("123456")
    store.predict(code, "learner-aaaaaaaa", "03-vertical-scaling", 0, 1)
    store.predict(code, "learner-bbbbbbbb", "03-vertical-scaling", 0, 1)
    store.predict(code, "learner-cccccccc", "03-vertical-scaling", 0, 2)
    store.predict(code, "learner-cccccccc", "03-vertical-scaling", 0, 0)  # changed their mind: counted once
    assert store.tally(code, "03-vertical-scaling", 0, 3) == [1, 2, 0]
    assert store.tally(code, "03-vertical-scaling", 1, 3) == [0, 0, 0]  # another experiment
    # Anything else in the hash (written by someone else) is not counted, whatever it is.
    key = f"gsl:room:{code}:predict:03-vertical-scaling:0"
    store.redis.hset(key, mapping={"x1": "7", "x2": "-1", "x3": "²", "x4": "<b>1</b>", "x5": "11"})
    assert store.tally(code, "03-vertical-scaling", 0, 3) == [1, 2, 0]
    assert 0 < store.redis.ttl(key) <= 2 * 3600  # it leaves with the room


@pytest.mark.parametrize("field, value", [("learner", "short"), ("learner", "a" * 41), ("lesson", "../x"),
                                          ("step", -1), ("step", True), ("choice", 10), ("choice", "1")])
def test_a_prediction_with_a_bad_field_is_refused_naming_it(store, field, value):
    code, _, _ = store.open_room("123456")
    args = {"learner": "learner-aaaaaaaa", "lesson": "03-vertical-scaling", "step": 0, "choice": 1, field: value}
    with pytest.raises(StoreRejected, match=f"prediction: {field} .* is not allowed"):
        store.predict(code, args["learner"], args["lesson"], args["step"], args["choice"])
    with pytest.raises(StoreRejected, match="not found"):
        store.predict("ZZZZZZ", "learner-aaaaaaaa", "03-vertical-scaling", 0, 1)  # no such room


def test_a_room_counts_a_bounded_number_of_learners_per_experiment(store, monkeypatch):
    import dashboard.classroom.store as module

    monkeypatch.setattr(module, "MAX_PREDICTIONS", 3)
    code, _, _ = store.open_room("123456")
    for n in range(3):
        store.predict(code, f"learner-{n:08d}", "01-one-server", 0, 0)
    with pytest.raises(StoreRejected, match="already counts 3 learners"):
        store.predict(code, "learner-99999999", "01-one-server", 0, 0)
    store.predict(code, "learner-00000001", "01-one-server", 0, 1)  # one already counted may change their mind
    assert store.tally(code, "01-one-server", 0, 2) == [2, 1]


@pytest.mark.parametrize("part", ["seq", "windows", "state"])
def test_a_room_part_replaced_by_another_type_heals_at_the_presenters_next_publish(store, part):
    code, token, _ = store.open_room("123456")
    store.publish(code, token, {"run": 1}, [window(1.0, run=1)])
    key = f"gsl:room:{code}:{part}"
    store.redis.delete(key)
    store.redis.hset(key, mapping={"planted": "x"})  # a wrong type: once, the room failed until it expired
    follower = Follower(store, code)
    follower.poll()  # the learner waits instead of failing
    store.publish(code, token, {"run": 1}, [window(2.0, run=1)])
    store.publish(code, token, {"run": 1}, [window(3.0, run=1)])
    follower.poll()
    assert follower.state == {"run": 1} and follower.windows[-1]["t_end_s"] == 3.0


def test_a_room_record_replaced_by_another_type_is_refused_and_its_code_freed(store):
    code, token, _ = store.open_room("123456")
    store.redis.delete(f"gsl:room:{code}")
    store.redis.rpush(f"gsl:room:{code}", "planted")
    with pytest.raises(StoreRejected, match="replaced by something else, and is removed"):
        store.claim_room(code, "123456", client="presenter")
    assert store.redis.exists(f"gsl:room:{code}") == 0


def test_a_planted_prediction_tally_of_another_type_is_reset(store):
    code, _, _ = store.open_room("123456")
    key = f"gsl:room:{code}:predict:01-one-server:1"
    store.redis.rpush(key, "planted")
    store.predict(code, "learner-0001", "01-one-server", 1, 2)
    assert store.tally(code, "01-one-server", 1, 3) == [0, 0, 1]


@pytest.mark.parametrize("body", [[1, 2], {"scenario": "text"}, {"scenario": {}, "summary": [1]},
                                  {"scenario": {}, "summary": {"t_end_s": "soon"}},  # the Sandbox formats it: a crash
                                  {"scenario": {}, "summary": {"error_rate": True}},
                                  {"scenario": {}, "summary": {f"k{i}": 1 for i in range(201)}}])
def test_a_saved_scenario_of_the_wrong_shape_is_refused_even_when_signed(store, body):
    payload = json.dumps({"v": 1, "kind": "scenario", "scope": "aaaaaaaa", "seq": 0, "body": body})
    signed = json.dumps({"payload": payload, "mac": hmac.new(SECRET, payload.encode(), hashlib.sha256).hexdigest()})
    store.redis.set("gsl:scenario:aaaaaaaa", signed)
    with pytest.raises(StoreRejected, match="malformed"):
        store.load_scenario("aaaaaaaa")


def test_a_summary_that_is_not_named_figures_is_not_saved(store):
    with pytest.raises(StoreRejected, match="summary: is not allowed: named figures, each a number or null"):
        store.save_scenario({}, {"t_end_s": "soon"})


def test_a_saved_id_whose_key_holds_another_type_is_reset_and_reads_as_not_found(store):
    store.redis.rpush("gsl:scenario:aaaaaaaa", "planted")
    with pytest.raises(StoreRejected, match="not found"):
        store.load_scenario("aaaaaaaa")
    assert store.redis.exists("gsl:scenario:aaaaaaaa") == 0


def test_a_saved_scenario_carries_its_uploaded_traces_compressed_and_checked(store):
    from engine.traces import read_trace_csv

    trace = read_trace_csv("t_s,prompt_tokens,output_tokens\n" + "".join(f"{i * 0.25},{i % 900},{1 + i % 50}\n"
                                                                         for i in range(40_000)))
    text = trace.to_csv()
    saved = store.save_scenario({"name": "mine"}, attachments={trace.name: text})
    raw = store.redis.get(f"gsl:scenario:{saved}")
    assert len(raw) < len(text) / 2  # compressed in Redis
    assert store.load_scenario(saved)["attachments"] == {trace.name: text}
    for name, body in (("../../etc/passwd", "x"), ("upload-123.csv", "x"), (trace.name, b"bytes")):
        with pytest.raises(StoreRejected, match="is not allowed: an uploaded trace's name and text"):
            store.save_scenario({"name": "mine"}, attachments={name: body})


def test_a_saved_scenario_carries_its_similarity_curve(store):
    from engine.curves import DEFAULT

    text = DEFAULT.to_csv()
    saved = store.save_scenario({"name": "mine"}, attachments={DEFAULT.name: text})
    assert store.load_scenario(saved)["attachments"] == {DEFAULT.name: text}
    for name in ("curve-123", DEFAULT.name + ".csv", "curve-" + "G" * 24):
        with pytest.raises(StoreRejected, match="is not allowed: an uploaded trace's name and text, or a similarity"):
            store.save_scenario({"name": "mine"}, attachments={name: text})


@pytest.mark.parametrize("attachments", [
    {"upload-" + "0" * 24 + ".csv": "not base64 !"},
    {"curve-" + "0" * 24: "not base64 !"},
    {"curve-" + "0" * 24 + "/../x": ""},
    {"upload-" + "0" * 24 + ".csv": __import__("base64").b64encode(__import__("zlib").compress(b"x" * 6_000_000)).decode()},
    {"../x.csv": ""},
    {"upload-" + "0" * 24 + ".csv": 5},
    [],
])
def test_a_saved_trace_of_the_wrong_shape_or_a_bomb_is_refused_even_when_signed(store, attachments):
    saved = store.save_scenario({"name": "mine"})
    key = f"gsl:scenario:{saved}"
    store.redis.set(key, store._sign("scenario", saved, {"scenario": {}, "summary": None, "attachments": attachments}))
    with pytest.raises(StoreRejected, match="not a value this app wrote"):
        store.load_scenario(saved)
