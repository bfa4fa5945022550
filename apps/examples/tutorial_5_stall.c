/*
 * tutorial_5_stall.c - docs/tutorial.md, step 5: epochs, probes, and a
 * dataflow that says why it is stuck.
 *
 *   tutorial_5_stall [-w W] [-n N -p I] [--stall-timeout MS] [--forget]
 *
 * Two inputs, 'clicks' and 'limits', feed one probe. Each worker sends a
 * click per epoch, advances both of its handles and waits with
 * tide_worker_step_until until the epoch is complete everywhere, printing
 * "epoch E complete" (once per worker). With --forget the last worker never
 * advances its 'limits' handle: epoch 0 can then never complete, and after
 * the stall time step_until returns TIDE_ETIMEDOUT with a report naming the
 * input, the epoch and the worker; the program prints it and exits 1.
 */
#include <stdio.h>
#include <string.h>

#include "tide/tide.h"
#include "std_flags.h"

#define EPOCHS 3

static int worker_main(tide_worker *w, void *arg)
{
    bool forget = *(const bool *)arg && tide_worker_index(w) == tide_worker_peers(w) - 1;
    tide_dataflow *df = tide_dataflow_new(w, "clicks");
    tide_scope *root = tide_dataflow_root(df);
    tide_stream *s[2];
    tide_input *clicks = tide_input_new(root, tide_layout_make(8, 0), 0, &s[0]);
    tide_input *limits = tide_input_new(root, tide_layout_make(8, 0), 0, &s[1]);
    TIDE_TRY(tide_input_set_name(clicks, "clicks")); /* names appear in stall reports */
    TIDE_TRY(tide_input_set_name(limits, "limits"));
    tide_probe *probe = tide_probe_new(tide_exchange(tide_concat(s, 2)));
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint64_t e = 0; e < EPOCHS; e++) {
        TIDE_TRY(tide_input_send_u64(clicks, tide_worker_index(w)));
        TIDE_TRY(tide_input_advance_to(clicks, e + 1));
        if (!forget) TIDE_TRY(tide_input_advance_to(limits, e + 1));
        /* Every worker must advance its own handles: the epoch completes
         * only when all of them have. */
        TIDE_TRY(tide_worker_step_until(w, probe, tide_time_epoch(e)));
        printf("epoch %llu complete\n", (unsigned long long)e);
        fflush(stdout);
    }
    TIDE_TRY(tide_input_close(clicks));
    return tide_input_close(limits);
}

int main(int argc, char **argv)
{
    example_std_flags(argc, argv, "tutorial_5_stall",
                      "usage: tutorial_5_stall [cluster flags] [--forget]\n"
                      "docs/tutorial.md step 5: epochs and probes; with --forget one input is "
                      "never\nadvanced and the dataflow says why it is stuck.\n");
    tide_config cfg;
    tide_config_init(&cfg);
    tide_error e = {0};
    if (tide_config_parse(&cfg, &argc, argv, &e) < 0) {
        fprintf(stderr, "tutorial_5_stall: %s\n", e.msg);
        return 2;
    }
    bool forget = argc > 1 && strcmp(argv[1], "--forget") == 0;
    if (tide_execute(&cfg, worker_main, &forget, &e) < 0) {
        fprintf(stderr, "tutorial_5_stall: %s (%s)\n", e.msg, tide_err_name(e.code));
        return 1;
    }
    return 0;
}
