"""Two (three) WebSocket clients against `tide-datalog serve`.

A creates the schema, transacts and registers a query; B subscribes and
must receive exactly the current answer, then exactly the diffs of A's
later transactions; C subscribes and drops its connection mid-stream; the
server keeps serving. Malformed requests get errors and change nothing.
Usage: ws_client.py PORT  (exit 0 and "OK" on success)
"""
import asyncio
import json
import sys

import websockets

URL = "ws://127.0.0.1:%s" % sys.argv[1]


async def connect():
    for _ in range(300):  # 30 s: the server starts slowly on a loaded machine
        try:
            return await websockets.connect(URL, subprotocols=["tide-datalog"])
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit("server not up")


async def call(ws, req):
    await ws.send(json.dumps(req))
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def recv_n(ws, n):
    out = []
    for _ in range(n):
        out.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    return out


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


async def main():
    a = await connect()
    b = await connect()
    r = await call(a, {"op": "create", "id": 1, "schema": {"p/name": "String", "p/n": "Number"}})
    check(r.get("ok") and r["id"] == 1, "create: %r" % r)
    r = await call(a, {"op": "transact", "tx": '[{:db/id 1 :p/name "x" :p/n 10} [:db/add 2 :p/n 20]]'})
    check(r.get("ok") and r["time"] == 1, "transact: %r" % r)
    r = await call(a, {"op": "register", "name": "q", "query": "[:find ?e ?n :where [?e :p/n ?n]]"})
    check(r.get("ok") and r["time"] == 2, "register: %r" % r)
    r = await call(a, {"op": "register", "name": "total",
                       "query": "[:find (sum ?n) :with ?e :where [?e :p/n ?n]]"})
    check(r.get("ok"), "register total: %r" % r)
    # rejected requests: each its error, nothing changes
    bad = [
        "not json",
        "[1,2]",
        json.dumps({"nop": 1}),
        json.dumps({"op": "frob"}),
        json.dumps({"op": "transact"}),
        json.dumps({"op": "transact", "tx": "[[:db/add 1 :p/n \"str\"]]"}),
        json.dumps({"op": "transact", "tx": "[[:db/add 1 :p/zz 1]]"}),
        json.dumps({"op": "transact", "tx": "[[:db/add 1 :p/n 1"}),
        json.dumps({"op": "register", "name": "z", "query": "[:find ?y :where [?e :p/n ?n]]"}),
        json.dumps({"op": "register", "name": "", "query": "[:find ?e :where [?e :p/n _]]"}),
        json.dumps({"op": "register", "query": "[:find ?e :where [?e :p/n _]]"}),
        json.dumps({"op": "subscribe", "name": "nope"}),
        json.dumps({"op": "unregister", "name": "nope"}),
        json.dumps({"op": "create", "schema": {"p/n": "Number"}}),
        json.dumps({"op": "create", "schema": {"p/m": "Frob"}}),
        json.dumps({"op": "create", "schema": []}),
    ]
    for m in bad:
        await a.send(m)
        r = json.loads(await asyncio.wait_for(a.recv(), 10))
        check("error" in r, "no error for %s: %r" % (m, r))
    # B subscribes: the current answer at the current time
    r = await call(b, {"op": "subscribe", "name": "q"})
    check(r.get("ok"), "subscribe: %r" % r)
    now = r["time"]
    got = sorted((d["tuple"], d["time"], d["diff"]) for d in await recv_n(b, 2))
    check(got == [([1, 10], now, 1), ([2, 20], now, 1)], "current answer: %r" % got)
    # C subscribes and vanishes without a closing handshake
    c = await connect()
    r = await call(c, {"op": "subscribe", "name": "q"})
    check(r.get("ok"), "subscribe c: %r" % r)
    c.transport.abort()
    # A transacts: B gets exactly the diffs
    r = await call(a, {"op": "transact", "tx": "[[:db/retract 1 :p/n 10] [:db/add 1 :p/n 11] [:db/add 3 :p/n 30]]"})
    check(r.get("ok"), "transact 2: %r" % r)
    t = r["time"]
    got = sorted((d["query"], d["tuple"], d["time"], d["diff"]) for d in await recv_n(b, 3))
    check(got == [("q", [1, 10], t, -1), ("q", [1, 11], t, 1), ("q", [3, 30], t, 1)], "diffs: %r" % got)
    # a fresh client still works after C's disconnect; B still receives
    d = await connect()
    r = await call(d, {"op": "transact", "tx": "[[:db/retractEntity 2]]"})
    check(r.get("ok"), "transact 3: %r" % r)
    got = await recv_n(b, 1)
    check(got == [{"query": "q", "tuple": [2, 20], "time": r["time"], "diff": -1}], "diffs 3: %r" % got)
    # unsubscribe: no more diffs for B
    r = await call(b, {"op": "unsubscribe", "name": "q"})
    check(r.get("ok"), "unsubscribe: %r" % r)
    r = await call(d, {"op": "transact", "tx": "[[:db/add 4 :p/n 40]]"})
    check(r.get("ok"), "transact 4: %r" % r)
    r = await call(b, {"op": "subscribe", "name": "total"})
    check(r.get("ok"), "subscribe total: %r" % r)
    got = await recv_n(b, 1)
    check(got == [{"query": "total", "tuple": [81], "time": r["time"], "diff": 1}], "total: %r" % got)
    for w in (a, b, d):
        await w.close()
    print("OK")


asyncio.run(main())
