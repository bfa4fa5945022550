/*
 * progress.pml - a SPIN model of tide's cross-process progress protocol, as
 * built. docs/progress-model.md explains it; scripts/model.sh checks it.
 *
 * What it models, and the code each part stands for (file:function):
 *
 *   workers    NW = 3 workers: 0 and 1 are threads of process 0, worker 2 is
 *              process 1 (runtime/execute.c:runtime_init, global index
 *              p * W + i). Each runs the same dataflow, sealed before
 *              anything happens.
 *   dataflow   input I --exchange--> operator A --exchange--> probe B
 *                I.out (a source, location 0): the input's capability at
 *                  its epoch (runtime/input.c); epoch 0 on every worker,
 *                  then advanced to 1, then closed, by the worker's main.
 *                A.in  (a target, location 1): A pulls each queued message
 *                  at t and may send one at t to some worker (an exchange,
 *                  runtime/channel.c:exchange).
 *                B.in  (a target, location 2): a probe, which pulls and
 *                  drops (runtime/probe.c:probe_schedule); its frontier is
 *                  what a user waits on.
 *              All path summaries are the identity (the default of
 *              runtime/operator.c:tide_op_build), so I.out reaches A.in and
 *              B.in, and A.in reaches B.in, at the same time. A.out never
 *              holds a capability (A sends only while pulling) and is left
 *              out. Times are the epochs 0 .. NT-1.
 *              Where a record goes is part of it (exchange by key): an
 *              input record names the worker of A that gets it and the
 *              worker of B that A's output for it goes to, or that A sends
 *              nothing.
 *   channels   one FIFO per ordered pair of workers carrying DATA and
 *              PROGRESS alike: in process 0 the SPSC queues 0->1 and 1->0
 *              (runtime/queue.c, runtime/worker.c:tide__worker_send); across
 *              processes the DEALER (p,i)->q, its TCP connection, the
 *              receiving ROUTER's thread and the per-worker inbox netq
 *              (net/zmq.c:tide__transport_send, tide__transport_broadcast,
 *              on_message; runtime/execute.c:net_deliver), which together
 *              keep exactly the per-(sender, receiver) order (docs/wire.md,
 *              "Ordering"). A PROGRESS frame sent once per process and fanned
 *              out by the receive thread is one copy per receiving worker.
 *   receiving  one message at a time, from either inbox, whenever it is
 *              there (runtime/worker.c:drain, tide__worker_deliver): DATA is
 *              queued at the operator's input, PROGRESS is applied to the
 *              view. tide applies drained progress at the next propagate,
 *              before any operator runs; applying it at once only adds
 *              observation points (every state of tide is a state here).
 *   a step     runtime/dataflow.c:tide__df_step, one atomic action: A pulls
 *              every queued message (-1 at A.in each,
 *              runtime/operator.c:tide_op_pull) and sends what it sends (+1
 *              at B.in each, counted before it leaves,
 *              runtime/channel.c:send_to; a message to this worker is queued
 *              here at once, runtime/channel.c:tide__deliver_local); then B
 *              pulls everything queued (-1 at B.in), in the same round as in
 *              runtime/dataflow.c:run_active; then the change list is
 *              consolidated and broadcast (runtime/dataflow.c:
 *              tide__df_broadcast: summed per pointstamp, zeros dropped,
 *              nothing sent when empty; one PROGRESS per other worker, in the
 *              same FIFO as the data) and applied to the own tracker, where
 *              the next round's propagate makes it visible before the step
 *              ends.
 *   user code  between steps, the worker's main: runtime/input.c:
 *              tide_input_send (a record at the current epoch, sent at
 *              once: +1 at A.in), tide_input_advance_to (+1 at (I.out, 1),
 *              -1 at (I.out, 0)) and tide_input_close (-1 at (I.out,
 *              epoch)); they only record changes, which go out with the
 *              next step's broadcast.
 *   views      each worker's pointstamp counts v[] (the tracker's
 *              per-location counts, runtime/reachability.c:
 *              tide__tracker_update_source/_target). Initial capabilities
 *              are counted NW times on every worker and never broadcast
 *              (runtime/dataflow.c:tide_dataflow_seal).
 *   frontiers  the implications at each target, by definition
 *              (runtime/reachability.h): the frontier of T has an element
 *              <= x iff a location that reaches T has a positive count at
 *              a time <= x. runtime/reachability.c:tide__tracker_propagate
 *              computes this incrementally and
 *              tests/runtime/test_reachability.c checks it against a naive
 *              oracle, so the model uses the definition.
 *   completion a worker whose input is closed, whose change list is empty,
 *              whose operators have nothing queued and whose view has no
 *              positive count is complete: it stops stepping the dataflow
 *              and leaves its loop, reading nothing more
 *              (runtime/dataflow.c:tide__df_step sets df->complete from
 *              tide__tracker_is_idle; runtime/worker.c:step skips complete
 *              dataflows; runtime/execute.c:worker_thread).
 *
 * Ghost state (not in tide; for the properties): truth[] counts the true
 * pointstamps, the "records" of Brun et al.: capabilities held, and messages
 * sent but not yet pulled (in a channel or queued at an input port). dq[w]
 * counts the DATA messages in channels towards worker w.
 *
 * Mutants (spin -DMUTANT=n; docs/progress-model.md):
 *   1  progress on its own channel per pair, unordered: a PROGRESS may
 *      overtake DATA and other PROGRESS. Must fail safety.
 *   2  a message's +1 leaves one batch late, after the -1 of the capability
 *      or the message it was sent under. Must fail safety.
 *   3  data and progress on two FIFO channels per pair: each in order, but
 *      PROGRESS may overtake the DATA it accounts for. Passes (see the doc).
 *   4  worker 2's input drops its capability without recording it (never
 *      broadcast): liveness must fail (safety holds: a count too high only
 *      holds frontiers back).
 */

#ifndef MUTANT
#define MUTANT 0
#endif
/* The bounds below are scripts/model.sh's CI configuration; docs/
 * progress-model.md gives the larger ones and their cost. */
#ifndef SENDS
#define SENDS 1 /* records all inputs together send */
#endif
#ifndef SENDERS
#define SENDERS 1 /* bit w: worker w's input may send records */
#endif
#ifndef ADVANCERS
#define ADVANCERS 1 /* bit w: worker w's input may advance to epoch 1 before closing */
#endif
#ifndef QCAP
#define QCAP 5 /* slots per channel; asserted never to fill (tide's are unbounded) */
#endif
#define CAN_SEND(w) ((SENDERS >> (w)) & 1)
#define CAN_ADVANCE(w) ((ADVANCERS >> (w)) & 1)

#define NW 3 /* workers: 0, 1 in process 0; 2 in process 1 */
#define NT 2 /* epochs 0 .. NT-1 */
#define NL 3 /* locations: 0 I.out, 1 A.in, 2 B.in */
#define CLOSED NT
#define NONE NW /* a route: A sends nothing */

#define LOUT 0
#define LAIN 1
#define LBIN 2

#define IX(l, t) ((l) * NT + (t))
#define VX(w, l, t) ((w) * NL * NT + IX(l, t))
/* the channel of the ordered pair s -> d, s != d */
#define CH(s, d) ((s) * (NW - 1) + ((d) < (s) -> (d) : (d) - 1))
/* A.in's queue at worker w: count of messages at time t whose A output goes
 * to worker r (NONE: no output) */
#define QA(w, t, r) qa[((w) * NT + (t)) * (NW + 1) + (r)]

mtype = { DATA, PROG };

/* DATA: IX(location, time) + 8 * route (A.in) ; PROGRESS: the consolidated
 * batch, one nibble (delta + 8) per pointstamp IX, 6 nibbles. */
chan q[NW * (NW - 1)] = [QCAP] of { mtype, int };
#if MUTANT == 1
chan pq[NW * (NW - 1)] = [QCAP] of { mtype, int };
#endif

short v[NW * NL * NT];    /* each worker's tracker counts: its view */
short pend[NW * NL * NT]; /* df->changes: recorded, not yet broadcast */
#if MUTANT == 2
short late[NW * NL * NT]; /* mutant 2: +1s held back one batch */
#endif
byte qa[NW * NT * (NW + 1)]; /* A.in queues, see QA */
byte qb[NW * NT];            /* B.in queues, by time */
byte epoch[NW];              /* the input's epoch; CLOSED once closed */
byte sent;                   /* records the inputs have sent */
bool done[NW];               /* the worker left its loop */
short truth[NL * NT];        /* ghost: true pointstamps (records) */
byte dq[NW];                 /* ghost: DATA in channels towards w */
bool frontier_passed_a_pointstamp; /* set by the monitor, for the message */

/* ---- the properties -------------------------------------------------------- */

/* Worker w's frontier at A.in (B.in) has an element <= x: a location that
 * reaches A.in (B.in) has a positive count at a time <= x in w's view. */
#define VPOS(w, l, x) (v[VX(w, l, 0)] > 0 || ((x) == 1 && v[VX(w, l, 1)] > 0))
#define FA_LE(w, x) (VPOS(w, LOUT, x) || VPOS(w, LAIN, x))
#define FB_LE(w, x) (FA_LE(w, x) || VPOS(w, LBIN, x))
/* A true pointstamp that could result in a message at A.in (B.in) at x. */
#define TA(x) (truth[IX(LOUT, x)] > 0 || truth[IX(LAIN, x)] > 0)
#define TB(x) (TA(x) || truth[IX(LBIN, x)] > 0)
#define SAFE_WX(w, x) ((!TA(x) || FA_LE(w, x)) && (!TB(x) || FB_LE(w, x)))
#define SAFE_W(w) (SAFE_WX(w, 0) && SAFE_WX(w, 1) && (!done[w] || dq[w] == 0))
/* Safety, as Brun et al. (ITP 2021) prove for timely (Combined.thy,
 * safe_combined): whenever a pointstamp (L, t) is held or in flight, every
 * worker's frontier at every target that L reaches has an element <= t.
 * Also: no data is on its way to a worker that has left its loop. */
#define SAFE (SAFE_W(0) && SAFE_W(1) && SAFE_W(2))

#define ZERO6(a, w)                                                                  \
    (a[VX(w, 0, 0)] == 0 && a[VX(w, 0, 1)] == 0 && a[VX(w, 1, 0)] == 0 &&             \
     a[VX(w, 1, 1)] == 0 && a[VX(w, 2, 0)] == 0 && a[VX(w, 2, 1)] == 0)
#define VIDLE(w)                                                                     \
    (v[VX(w, 0, 0)] <= 0 && v[VX(w, 0, 1)] <= 0 && v[VX(w, 1, 0)] <= 0 &&             \
     v[VX(w, 1, 1)] <= 0 && v[VX(w, 2, 0)] <= 0 && v[VX(w, 2, 1)] <= 0)
#define QA_EMPTY(w, t)                                                               \
    (QA(w, t, 0) == 0 && QA(w, t, 1) == 0 && QA(w, t, 2) == 0 && QA(w, t, NONE) == 0)
#define QUEUED(w)                                                                    \
    (!QA_EMPTY(w, 0) || !QA_EMPTY(w, 1) || qb[(w) * NT] > 0 || qb[(w) * NT + 1] > 0)
#define ALLEMPTY (VIDLE(0) && VIDLE(1) && VIDLE(2))
#define ALLDONE (done[0] && done[1] && done[2])
#define ALLCLOSED (epoch[0] == CLOSED && epoch[1] == CLOSED && epoch[2] == CLOSED)
#define NODATA                                                                       \
    (truth[IX(LAIN, 0)] == 0 && truth[IX(LAIN, 1)] == 0 && truth[IX(LBIN, 0)] == 0 && \
     truth[IX(LBIN, 1)] == 0)

/* Liveness: once every input is closed and every message pulled, every
 * worker's frontiers become empty; and every worker finishes. */
ltl live { [] ((ALLCLOSED && NODATA) -> <> ALLEMPTY) }
ltl term { <> ALLDONE }

/* ---- a worker's actions ------------------------------------------------------- */

/* runtime/dataflow.c:tide__df_change: record @delta at (l, t) in w's change list
 * (and in the ghost truth: the pointstamp is created or retired now). */
inline change(w, l, t, delta)
{
    pend[VX(w, l, t)] = pend[VX(w, l, t)] + delta;
    truth[IX(l, t)] = truth[IX(l, t)] + delta
}

/* runtime/channel.c:send_to: count the message (+1 at the destination input), then
 * send it, or queue it here when d is this worker (tide__deliver_local). */
inline send_data(w, d, l, t, r)
{
#if MUTANT == 2
    late[VX(w, l, t)] = late[VX(w, l, t)] + 1;
    truth[IX(l, t)] = truth[IX(l, t)] + 1;
#else
    change(w, l, t, 1);
#endif
    if
    :: d == w && l == LAIN -> QA(w, t, r)++
    :: d == w && l == LBIN -> qb[w * NT + t]++
    :: d != w ->
        assert(nfull(q[CH(w, d)]));
        q[CH(w, d)] ! DATA, IX(l, t) + 8 * r;
        dq[d]++
    fi
}

/* runtime/worker.c:tide__worker_deliver: DATA to the operator's input queue,
 * PROGRESS into the tracker (tide__df_apply). */
inline deliver(w, kind, p)
{
    if
    :: kind == DATA ->
        printf("w%d <- DATA at (%d, %d) (location 1 A.in, 2 B.in)\n", w, (p % 8) / NT, (p % 8) % NT);
        dq[w]--;
        if
        :: (p % 8) / NT == LAIN -> QA(w, (p % 8) % NT, p / 8)++
        :: else -> qb[w * NT + (p % 8) % NT]++
        fi
    :: else ->
        printf("w%d <- PROGRESS [I.out %d %d | A.in %d %d | B.in %d %d]\n", w,
               (p & 15) - 8, ((p >> 4) & 15) - 8, ((p >> 8) & 15) - 8, ((p >> 12) & 15) - 8,
               ((p >> 16) & 15) - 8, ((p >> 20) & 15) - 8);
        k = 0;
        do
        :: k < NL * NT ->
            v[w * NL * NT + k] = v[w * NL * NT + k] + ((p >> (4 * k)) & 15) - 8;
            k++
        :: else -> break
        od;
        k = 0
    fi;
    p = 0
}

/* runtime/input.c:tide_input_send, flushed at once: a record at the current epoch to
 * worker d's A, whose output for it goes to worker r's B (or nowhere). */
inline input_send(w, d, r)
{
    CAN_SEND(w) && epoch[w] < CLOSED && sent < SENDS ->
    sent++;
    printf("w%d: input sends a record at %d to A on w%d (A sends it on to B on w%d; 3: nowhere)\n", w, epoch[w], d, r);
    send_data(w, d, LAIN, epoch[w], r)
}

/* A pulls every message queued at (A.in, t) with route r, sending each on. */
inline run_A(w, t, r)
{
    do
    :: QA(w, t, r) > 0 ->
        printf("w%d: A pulls at %d, sends it on to B on w%d (3: nowhere)\n", w, t, r);
        QA(w, t, r)--;
        change(w, LAIN, t, -1);
        if
        :: r < NW -> send_data(w, r, LBIN, t, 0)
        :: else -> skip
        fi
    :: else -> break
    od
}

/* B pulls every message queued at (B.in, t). */
inline run_B(w, t)
{
    do
    :: qb[w * NT + t] > 0 ->
        printf("w%d: B pulls at %d\n", w, t);
        qb[w * NT + t]--;
        change(w, LBIN, t, -1)
    :: else -> break
    od
}

/* runtime/dataflow.c:tide__df_broadcast: the consolidated change list to every other
 * worker, then into the own view. */
inline broadcast(w)
{
    if
    :: !ZERO6(pend, w) ->
        printf("w%d: broadcasts [I.out %d %d | A.in %d %d | B.in %d %d]\n", w,
               pend[VX(w, 0, 0)], pend[VX(w, 0, 1)], pend[VX(w, 1, 0)], pend[VX(w, 1, 1)],
               pend[VX(w, 2, 0)], pend[VX(w, 2, 1)]);
        p = 0;
        k = 0;
        do
        :: k < NL * NT ->
            assert(pend[w * NL * NT + k] >= -8 && pend[w * NL * NT + k] <= 7);
            p = p | ((pend[w * NL * NT + k] + 8) << (4 * k));
            v[w * NL * NT + k] = v[w * NL * NT + k] + pend[w * NL * NT + k];
            pend[w * NL * NT + k] = 0;
            k++
        :: else -> break
        od;
#if MUTANT == 1
        assert(nfull(pq[CH(w, s1)]) && nfull(pq[CH(w, s2)]));
        pq[CH(w, s1)] ! PROG, p;
        pq[CH(w, s2)] ! PROG, p;
#else
        assert(nfull(q[CH(w, s1)]) && nfull(q[CH(w, s2)]));
        q[CH(w, s1)] ! PROG, p;
        q[CH(w, s2)] ! PROG, p;
#endif
        p = 0;
        k = 0
    :: else -> skip
    fi
#if MUTANT == 2
    ;
    /* the held-back +1s are recorded now, for the next batch */
    k = 0;
    do
    :: k < NL * NT -> pend[w * NL * NT + k] = pend[w * NL * NT + k] + late[w * NL * NT + k]; late[w * NL * NT + k] = 0; k++
    :: else -> break
    od;
    k = 0
#endif
}

#if MUTANT == 2
#define LATE_EMPTY(w) ZERO6(late, w)
#else
#define LATE_EMPTY(w) true
#endif

proctype worker(byte w)
{
    byte k, s1, s2;
    mtype kind;
    int p;

    s1 = (w + 1) % NW;
    s2 = (w + 2) % NW;
    do
    /* user code between steps (runtime/input.c) */
    :: d_step { input_send(w, 0, 0) }
    :: d_step { input_send(w, 0, 1) }
    :: d_step { input_send(w, 0, 2) }
    :: d_step { input_send(w, 0, NONE) }
    :: d_step { input_send(w, 1, 0) }
    :: d_step { input_send(w, 1, 1) }
    :: d_step { input_send(w, 1, 2) }
    :: d_step { input_send(w, 1, NONE) }
    :: d_step { input_send(w, 2, 0) }
    :: d_step { input_send(w, 2, 1) }
    :: d_step { input_send(w, 2, 2) }
    :: d_step { input_send(w, 2, NONE) }
    :: d_step {
        CAN_ADVANCE(w) && epoch[w] == 0 ->
        printf("w%d: input advances to 1\n", w);
        change(w, LOUT, 1, 1);
        change(w, LOUT, 0, -1);
        epoch[w] = 1
    }
    :: d_step {
        epoch[w] < CLOSED ->
        printf("w%d: input closes at %d\n", w, epoch[w]);
#if MUTANT == 4
        if
        :: w == 2 -> truth[IX(LOUT, epoch[w])] = truth[IX(LOUT, epoch[w])] - 1
        :: else -> change(w, LOUT, epoch[w], -1)
        fi;
#else
        change(w, LOUT, epoch[w], -1);
#endif
        epoch[w] = CLOSED
    }
    /* runtime/worker.c:drain: the next message from worker s1 or s2 */
#if MUTANT == 3
    :: d_step { q[CH(s1, w)] ?? DATA, p -> deliver(w, DATA, p) }
    :: d_step { q[CH(s1, w)] ?? PROG, p -> deliver(w, PROG, p) }
    :: d_step { q[CH(s2, w)] ?? DATA, p -> deliver(w, DATA, p) }
    :: d_step { q[CH(s2, w)] ?? PROG, p -> deliver(w, PROG, p) }
#else
    :: d_step { q[CH(s1, w)] ? kind, p -> deliver(w, kind, p); kind = 0 }
    :: d_step { q[CH(s2, w)] ? kind, p -> deliver(w, kind, p); kind = 0 }
#endif
#if MUTANT == 1
    :: d_step { pq[CH(s1, w)] ? kind, p -> deliver(w, kind, p); kind = 0 }
    :: d_step { pq[CH(s2, w)] ? kind, p -> deliver(w, kind, p); kind = 0 }
    /* unordered: the oldest batch may be passed over (moved behind the rest) */
    :: d_step { len(pq[CH(s1, w)]) > 1 -> pq[CH(s1, w)] ? kind, p; pq[CH(s1, w)] ! kind, p; kind = 0; p = 0 }
    :: d_step { len(pq[CH(s2, w)]) > 1 -> pq[CH(s2, w)] ? kind, p; pq[CH(s2, w)] ! kind, p; kind = 0; p = 0 }
#endif
    /* runtime/dataflow.c:tide__df_step: run the operators, broadcast */
    :: d_step {
        (QUEUED(w) || !ZERO6(pend, w) || !LATE_EMPTY(w)) ->
        run_A(w, 0, 0); run_A(w, 0, 1); run_A(w, 0, 2); run_A(w, 0, NONE);
        run_A(w, 1, 0); run_A(w, 1, 1); run_A(w, 1, 2); run_A(w, 1, NONE);
        run_B(w, 0); run_B(w, 1);
        broadcast(w)
    }
    /* runtime/dataflow.c:tide__df_step's df->complete: the worker leaves its loop */
    :: d_step {
        epoch[w] == CLOSED && ZERO6(pend, w) && LATE_EMPTY(w) && !QUEUED(w) && VIDLE(w) ->
        printf("w%d: complete\n", w);
        done[w] = 1
    } -> break
    od
}

/* The safety monitor: blocked (adding no states) until SAFE is false. */
active proctype monitor()
{
end_monitor:
    atomic {
        !SAFE ->
        frontier_passed_a_pointstamp = 1;
        printf("VIOLATION: held or in flight [I.out %d %d | A.in %d %d | B.in %d %d]\n",
               truth[0], truth[1], truth[2], truth[3], truth[4], truth[5]);
        printf("  views: w0 [%d %d | %d %d | %d %d]  w1 [%d %d | %d %d | %d %d]  w2 [%d %d | %d %d | %d %d]\n",
               v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11],
               v[12], v[13], v[14], v[15], v[16], v[17]);
        assert(!frontier_passed_a_pointstamp)
    }
}

init
{
    byte i;
    atomic {
        /* runtime/dataflow.c:tide_dataflow_seal: every worker holds the input's
         * capability at epoch 0, counted NW times in every view. */
        do
        :: i < NW -> v[VX(i, LOUT, 0)] = NW; i++
        :: else -> break
        od;
        truth[IX(LOUT, 0)] = NW;
        run worker(0);
        run worker(1);
        run worker(2)
    }
}
