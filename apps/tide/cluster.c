/*
 * cluster.c - `tide cluster start | stop` (and the internal `worker`).
 *
 * start parses the layout flags (tide_config_parse: -n -w -p -h --port
 * --no-pin --peer-timeout) and its own (--listen --keys --foreground
 * --cluster), daemonizes unless --foreground, and runs the supervisor
 * (coord.c) or, on a host other than process 0's, a relay supervisor that
 * keeps this host's one process running against the remote coordinator.
 * The starting command waits for the workers to come up and prints the
 * control address; later commands find it in the state file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "commands.h"
#include "coord.h"
#include "curve.h"
#include "tide/config.h"

#define PROG "tide cluster"

int tide_cluster_worker(int argc, char **argv); /* worker.c */

static void usage_start(FILE *f)
{
    fprintf(f,
            "Usage: tide cluster start [-n N] [-w W] [-h HOSTS -p I] [--port P] [OPTION]...\n"
            "Start a tide cluster as a background service: N worker processes of W worker\n"
            "threads each, supervised (a process that dies is named, its jobs fail, and\n"
            "the processes are restarted), taking jobs from 'tide submit' (relative paths in\n"
            "a job's arguments are resolved in this directory). Prints the\n"
            "control address and records it in the state file\n"
            "($XDG_RUNTIME_DIR/tide/cluster, else ~/.tide/cluster).\n"
            "\n"
            "%s"
            "\n"
            "      --listen ADDR    control address, HOST:PORT (default 127.0.0.1:*, any\n"
            "                       free port), or ipc://PATH; a non-loopback HOST\n"
            "                       requires --keys\n"
            "      --keys FILE      the cluster's CURVE keys (tide keygen); its absolute path\n"
            "                       goes into the state file, so that the other commands\n"
            "                       use it without --keys\n"
            "      --cluster ADDR   with -h and -p I > 0: the coordinator (process 0's\n"
            "                       control address) this host's process joins\n"
            "      --foreground     do not daemonize; log to stderr\n"
            "      --help           display this help and exit\n"
            "      --version        output version information and exit\n"
            "\n"
            "Exit status: 0 once the cluster is up, 1 if it could not start, 2 on usage errors.\n",
            tide_config_usage());
}

static void usage_cluster(FILE *f)
{
    fprintf(f, "Usage: tide cluster start [OPTION]...   (tide cluster start --help)\n"
               "       tide cluster stop [--cluster ADDR]\n"
               "Start or stop the tide cluster of this user.\n");
}

static int find_exe(char *out, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    if (n <= 0) return -1;
    out[n] = 0;
    return 0;
}

/* A cluster recorded in the state file whose supervisor still lives? */
static int running_cluster(const char *path, char *addr, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    int pid = 0;
    int ok = fgets(addr, (int)cap, f) != NULL && fscanf(f, "%d", &pid) == 1;
    fclose(f);
    addr[strcspn(addr, "\n")] = 0;
    return ok && pid > 0 && kill(pid, 0) == 0;
}

/* ---- the relay supervisor of a process on another host ------------------ */

typedef struct relay {
    coord_opts *o;
    char *argv[24];
    char why[160]; /* how the last process ended ("" at first) */
    pid_t pid;     /* the running process, 0 if none */
    int respawn;   /* the coordinator asked for a new one */
    void *zctx, *dealer;
} relay;

static void relay_send(relay *r, const char *t, const char *why)
{
    ctl_w w;
    ctl_w_begin(&w, t, 2);
    ctl_w_u64(&w, "process", r->o->cfg.process);
    ctl_w_str(&w, "last_exit", why);
    cli_send_raw(r->dealer, &w);
}

static void relay_spawn(relay *r)
{
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(r->argv[0], r->argv);
        _exit(127);
    }
    r->pid = pid > 0 ? pid : 0;
    r->respawn = 0;
    fprintf(stderr, "tide cluster: process %u started (pid %d)\n", r->o->cfg.process, (int)pid);
}

/*
 * The process runs as long as the coordinator wants it: when it dies, the
 * relay reports how ("rdied") and waits for "respawn", which the coordinator
 * sends when the whole set restarts, so that every process of the new
 * generation starts together (the data plane cannot re-admit one process).
 */
static int relay_run(coord_opts *o, const char *coordinator)
{
    static relay rs;
    relay *r = &rs;
    r->o = o;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    static char nb[16], wb[16], pb[16], portb[16], tb[16];
    snprintf(nb, sizeof nb, "%u", o->cfg.processes);
    snprintf(wb, sizeof wb, "%u", o->cfg.workers);
    snprintf(pb, sizeof pb, "%u", o->cfg.process);
    snprintf(portb, sizeof portb, "%u", o->cfg.base_port);
    snprintf(tb, sizeof tb, "%u", o->cfg.peer_timeout_ms);
    int k = 0;
    char **argv = r->argv;
    argv[k++] = o->self_exe, argv[k++] = "cluster", argv[k++] = "worker";
    argv[k++] = "-n", argv[k++] = nb, argv[k++] = "-w", argv[k++] = wb;
    argv[k++] = "-p", argv[k++] = pb, argv[k++] = "--port", argv[k++] = portb;
    argv[k++] = "--peer-timeout", argv[k++] = tb, argv[k++] = "-h", argv[k++] = o->cfg.hostfile;
    argv[k++] = "--control", argv[k++] = (char *)coordinator;
    argv[k++] = "--last-exit", argv[k++] = r->why;
    if (o->keys[0]) argv[k++] = "--keys", argv[k++] = o->keys;
    argv[k] = NULL;

    /* The relay's own DEALER: a CURVE client too when the cluster has keys. */
    char rid[32];
    snprintf(rid, sizeof rid, "R%u", o->cfg.process);
    r->zctx = zmq_ctx_new();
    r->dealer = r->zctx ? zmq_socket(r->zctx, ZMQ_DEALER) : NULL;
    tide_error e = {0};
    int rc = sfd >= 0 && r->dealer ? 0 : -1;
    if (rc == 0 && o->keys[0]) {
        tide__curve_keys key;
        rc = tide__curve_load(o->keys, &key, &e);
        if (rc == 0) rc = tide__curve_client(r->dealer, &key, &e);
        tide__curve_wipe(&key);
    }
    if (rc == 0) {
        int zero = 0;
        zmq_setsockopt(r->dealer, ZMQ_ROUTING_ID, rid, strlen(rid));
        zmq_setsockopt(r->dealer, ZMQ_LINGER, &zero, sizeof zero);
        rc = zmq_connect(r->dealer, coordinator);
    }
    if (o->ready_fd >= 0) {
        if (rc == 0)
            dprintf(o->ready_fd, "ok %s\n", coordinator);
        else
            dprintf(o->ready_fd, "error cannot reach %s: %s\n", coordinator,
                    e.msg[0] ? e.msg : zmq_strerror(errno));
        close(o->ready_fd);
    }
    if (rc < 0) return 1;
    relay_send(r, "relay", "");
    relay_spawn(r);
    int64_t last_reg = 0;
    for (int stop = 0; !stop;) {
        zmq_pollitem_t it[2] = {{.socket = r->dealer, .events = ZMQ_POLLIN},
                                {.fd = sfd, .events = ZMQ_POLLIN}};
        zmq_poll(it, 2, 1000);
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si)
            if (si.ssi_signo != SIGCHLD) stop = 1;
        int st;
        if (r->pid > 0 && waitpid(r->pid, &st, WNOHANG) == r->pid) {
            fprintf(stderr, "tide cluster: process %u (pid %d) ended (status 0x%x)\n",
                    o->cfg.process, (int)r->pid, st);
            r->pid = 0;
            if (WIFEXITED(st) && WEXITSTATUS(st) == 3) break; /* the cluster stopped */
            if (WIFSIGNALED(st))
                snprintf(r->why, sizeof r->why, "killed by signal %d (%s)", WTERMSIG(st),
                         strsignal(WTERMSIG(st)));
            else
                snprintf(r->why, sizeof r->why, "exited with status %d", WEXITSTATUS(st));
            /* Exit 0 is the coordinator's "exit": it knows already. */
            if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) relay_send(r, "rdied", r->why);
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, r->dealer, ZMQ_DONTWAIT) >= 0) {
            ctl_doc d;
            if (ctl_parse(&d, zmq_msg_data(&m), zmq_msg_size(&m)) == 0) {
                if (ctl_is(&d, "respawn")) r->respawn = 1;
                if (ctl_is(&d, "stop")) stop = 1;
                if (ctl_is(&d, "kill") && r->pid > 0) {
                    kill(r->pid, SIGKILL); /* the set restarts: no report */
                    waitpid(r->pid, NULL, 0);
                    r->pid = 0;
                }
            }
            ctl_doc_fini(&d);
        }
        zmq_msg_close(&m);
        if (r->respawn && r->pid == 0) relay_spawn(r);
        /* Re-register now and then: a coordinator that restarted learns of us. */
        int64_t now = (int64_t)time(NULL);
        if (now - last_reg >= 5) relay_send(r, "relay", ""), last_reg = now;
    }
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
    }
    zmq_close(r->dealer);
    zmq_ctx_term(r->zctx);
    return 0;
}

static int start(int argc, char **argv)
{
    coord_opts o;
    memset(&o, 0, sizeof o);
    o.ready_fd = -1;
    int given_p = 0, foreground = 0;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0) return usage_start(stdout), 0;
        if (strcmp(argv[i], "--version") == 0) return cli_version("cluster");
        if (strncmp(argv[i], "-p", 2) == 0 || strncmp(argv[i], "--process", 9) == 0) given_p = 1;
        if (strncmp(argv[i], "--port", 6) == 0) o.port_given = 1;
        if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc && realpath(argv[i + 1], o.keys) == NULL)
            return cli_usage_error(PROG " start", "--keys %s: %s", argv[i + 1], strerror(errno));
    }
    tide_config_init(&o.cfg);
    tide_error e = {0};
    if (tide_config_parse(&o.cfg, &argc, argv, &e) < 0)
        return cli_usage_error(PROG " start", "%s", e.msg);
    snprintf(o.cfg.job, sizeof o.cfg.job, "tide-cluster");
    char listen[256] = "127.0.0.1:*", coordinator[CLI_ADDR_MAX] = "";
    static const struct option longs[] = {
        {"listen", required_argument, NULL, 'L'},  {"keys", required_argument, NULL, 'K'},
        {"cluster", required_argument, NULL, 'C'}, {"keys", required_argument, NULL, 'K'},
        {"foreground", no_argument, NULL, 'F'},    {NULL, 0, NULL, 0}};
    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+", longs, NULL)) != -1) {
        switch (ch) {
        case 'L':
            snprintf(listen, sizeof listen, "%s", optarg);
            break;
        case 'K':
            if (realpath(optarg, o.keys) == NULL)
                return cli_usage_error(PROG " start", "--keys %s: %s", optarg, strerror(errno));
            break;
        case 'C':
            cli_norm_addr(optarg, coordinator, sizeof coordinator);
            break;
        case 'F':
            foreground = 1;
            break;
        default:
            return cli_usage_error(PROG " start", "unrecognized option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(PROG " start", "unexpected argument '%s'", argv[optind]);
    cli_norm_addr(listen, o.listen, sizeof o.listen);
    if (!cli_is_loopback(o.listen) && o.keys[0] == 0)
        return cli_usage_error(PROG " start",
                               "--listen %s is not a loopback address: a submitted job is "
                               "arbitrary code, so the control port then needs the cluster's "
                               "CURVE keys (--keys FILE, made by 'tide keygen')",
                               listen);
    if (o.keys[0]) {
        tide__curve_keys k;
        int krc = tide__curve_load(o.keys, &k, &e);
        tide__curve_wipe(&k);
        if (krc < 0) {
            fprintf(stderr, PROG " start: %s\n", e.msg);
            return 1;
        }
    }
    if (given_p && o.cfg.hostfile[0] == 0)
        return cli_usage_error(PROG " start", "-p needs a hosts file (-h HOSTS)");
    o.local_all = !given_p;
    if (!o.local_all && o.cfg.process > 0 && coordinator[0] == 0)
        return cli_usage_error(PROG " start",
                               "-p %u: name process 0's control address with --cluster ADDR",
                               o.cfg.process);
    if (find_exe(o.self_exe, sizeof o.self_exe) < 0) {
        fprintf(stderr, PROG " start: cannot find the tide binary: %s\n", strerror(errno));
        return 1;
    }
    char dir[512], running[CLI_ADDR_MAX];
    if (cli_state_dir(dir, sizeof dir, 1) < 0) {
        fprintf(stderr, PROG " start: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    snprintf(o.state_path, sizeof o.state_path, "%s/cluster", dir);
    if (o.local_all || o.cfg.process == 0) {
        if (running_cluster(o.state_path, running, sizeof running)) {
            fprintf(stderr,
                    PROG " start: a cluster is already running at %s (stop it with 'tide "
                         "cluster stop')\n",
                    running);
            return 1;
        }
    }
    if (foreground) {
        printf("tide cluster: starting, log on stderr\n");
        fflush(stdout);
        return o.local_all || o.cfg.process == 0 ? coord_run(&o) : relay_run(&o, coordinator);
    }

    /* Daemonize: the child runs the supervisor in its own session, logging
     * to DIR/cluster.log; we wait for its "ok ADDR" or "error MSG" line. */
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) return perror(PROG " start: pipe"), 1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return perror(PROG " start: fork"), 1;
    if (pid == 0) {
        close(pfd[0]);
        setsid();
        char log[600];
        snprintf(log, sizeof log, "%s/cluster.log", dir);
        int lf = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) dup2(nul, 0);
        if (lf >= 0) dup2(lf, 1), dup2(lf, 2);
        if (nul > 2) close(nul);
        if (lf > 2) close(lf);
        o.ready_fd = pfd[1];
        _exit(o.local_all || o.cfg.process == 0 ? coord_run(&o) : relay_run(&o, coordinator));
    }
    close(pfd[1]);
    char line[1024];
    size_t len = 0;
    ssize_t k;
    while (len < sizeof line - 1 && (k = read(pfd[0], line + len, sizeof line - 1 - len)) != 0) {
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) break;
        len += (size_t)k;
    }
    close(pfd[0]);
    line[len] = 0;
    line[strcspn(line, "\n")] = 0;
    if (strncmp(line, "ok ", 3) == 0) {
        printf("%s\n", line + 3);
        return 0;
    }
    fprintf(stderr, PROG " start: %s (log: %s/cluster.log)\n",
            len > 6 ? line + 6 : "the supervisor exited during startup", dir);
    return 1;
}

static int stop(int argc, char **argv)
{
    const char *given = NULL;
    int orc = cli_common_opts(
        argc, argv, PROG " stop", "cluster",
        "Usage: tide cluster stop [--cluster ADDR] [--keys FILE]\n"
        "Stop the cluster: running jobs fail with \"the cluster stopped\", the worker\n"
        "processes exit, the state file is removed.\n",
        &given);
    if (orc >= 0) return orc;
    if (optind < argc)
        return cli_usage_error(PROG " stop", "unexpected argument '%s'", argv[optind]);
    ctl_w w;
    ctl_w_begin(&w, "stop", 0);
    cli_reply r;
    int rc = cli_ask(PROG " stop", given, &w, 15000, &r);
    if (rc == 0) printf("stopped the cluster at %s\n", r.c.addr);
    cli_reply_fini(&r);
    return rc;
}

int tide_cmd_cluster(int argc, char **argv)
{
    if (argc < 2) {
        usage_cluster(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0) return usage_cluster(stdout), 0;
    if (strcmp(argv[1], "--version") == 0) return cli_version("cluster");
    if (strcmp(argv[1], "start") == 0) return start(argc - 1, argv + 1);
    if (strcmp(argv[1], "stop") == 0) return stop(argc - 1, argv + 1);
    if (strcmp(argv[1], "worker") == 0) return tide_cluster_worker(argc - 1, argv + 1);
    return cli_usage_error(PROG, "unknown subcommand '%s' (start, stop)", argv[1]);
}
