"""Writes seeds.log: a day of application and database logs from the five seed systems, with
their duplicate-key errors as each system's stack printed them. The invoice counter's errors
start with a deploy at 14:00 (the spike a reader looks for); the rest come and go all day.
Deterministic: the same file every run.

    python3 examples/errors/make_seeds_log.py > examples/errors/seeds.log
"""

import datetime
import json
import random

rnd = random.Random(11)
day = datetime.datetime(2025, 4, 1, 6, 0, tzinfo=datetime.timezone.utc)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def invoice(t):
    # seed 000: mongoose-sequence's stale compound index on counters; pino JSON logs
    msg = ("E11000 duplicate key error collection: test.counters index: id_1_reference_value_1 "
           "dup key: { id: null, reference_value: null }")
    return json.dumps({"level": 50, "time": int(t.timestamp() * 1000), "pid": 4121,
                       "hostname": "billing-7d9f", "err": {"type": "MongoServerError",
                       "message": msg, "code": 11000}, "msg": "invoice numbering failed"})


def profile(t):
    # seed 001: find-then-create on user profiles; winston JSON
    user = rnd.choice(["64b7f0c2e4a1c3d2b1a09f88", "64b7f0c2e4a1c3d2b1a09f91", "64b7f0c2e4a1c3d2b1a0a003"])
    msg = (f"E11000 duplicate key error collection: smart-financial-planner.userprofiles index: "
           f"userId_1 dup key: {{ userId: ObjectId('{user}') }}")
    return json.dumps({"level": "error", "message": f"MongoServerError: {msg}",
                       "timestamp": iso(t), "service": "profile-api"})


def ticket(t, n):
    # seed 002: ticket numbers from countDocuments() + 1; plain Node text with a stack
    return (f"{iso(t)} ERROR MongoServerError: E11000 duplicate key error collection: "
            f"supportai.tickets index: ticket_number_1 dup key: {{ ticket_number: \"TKT-{n:05d}\" }}\n"
            f"    at InsertOneOperation.execute (/srv/app/node_modules/mongodb/lib/operations/insert.js:51:19)\n"
            f"    at async createTicket (/srv/app/routes/tickets.js:42:5)")


def token(t):
    # seed 003: a result token left null by one code path; Python logging with a traceback
    stamp = t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"
    return (f"{stamp} ERROR results Saving the result failed\n"
            "Traceback (most recent call last):\n"
            '  File "/srv/results/save.py", line 88, in save_result\n'
            "    db.divorce_conflict_results.insert_one(doc)\n"
            "pymongo.errors.DuplicateKeyError: E11000 duplicate key error collection: "
            "demo_test_answer.divorce_conflict_results index: resultToken_1 dup key: "
            "{ resultToken: null }, full error: {'index': 0, 'code': 11000, 'errmsg': "
            "'E11000 duplicate key error collection: demo_test_answer.divorce_conflict_results "
            "index: resultToken_1 dup key: { resultToken: null }', 'keyPattern': "
            "{'resultToken': 1}, 'keyValue': {'resultToken': None}}")


def conversation(t):
    # seed 004: the check-then-act race, once the unique index on sessionId was added; mongod
    session = rnd.choice(["sess_9f2c", "sess_a71d", "sess_0b3e"])
    attr = {"type": "insert", "ns": "test.conversations", "ok": 0,
            "errMsg": ("E11000 duplicate key error collection: test.conversations index: "
                       f"sessionId_1 dup key: {{ sessionId: \"{session}\" }}"),
            "errName": "DuplicateKey", "errCode": 11000, "durationMillis": rnd.randint(1, 9)}
    return json.dumps({"t": {"$date": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+00:00"},
                       "s": "I", "c": "WRITE", "id": 51803, "ctx": f"conn{rnd.randint(10, 99)}",
                       "msg": "Slow query", "attr": attr})


def noise(t):
    return rnd.choice([
        f"{iso(t)} INFO  GET /api/profile 200 {rnd.randint(3, 90)}ms",
        f"{iso(t)} INFO  POST /api/tickets 201 {rnd.randint(9, 140)}ms",
        json.dumps({"level": 30, "time": int(t.timestamp() * 1000), "pid": 4121,
                    "hostname": "billing-7d9f", "msg": "invoice created"}),
    ])


lines = []
ticket_no = 40
t = day
end = day + datetime.timedelta(hours=16)
while t < end:
    t += datetime.timedelta(seconds=rnd.randint(20, 140), milliseconds=rnd.randint(0, 999))
    hour = t.hour
    roll = rnd.random()
    deployed = hour >= 14
    if deployed and roll < (0.55 if hour == 14 else 0.2):
        lines.append(invoice(t))
    elif roll < 0.62 and rnd.random() < 0.15:
        lines.append(profile(t))
    elif roll < 0.7 and rnd.random() < 0.25:
        ticket_no += rnd.choice([0, 1])
        lines.append(ticket(t, ticket_no))
    elif roll < 0.74 and rnd.random() < 0.3:
        lines.append(token(t))
    elif roll < 0.78 and rnd.random() < 0.3:
        lines.append(conversation(t))
    else:
        lines.append(noise(t))
print("\n".join(lines))
