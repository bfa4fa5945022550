/*
 * transport_none.c - placeholder transport until net/zmq.c lands: a
 * multi-process layout is refused with a clear error.
 */
#include "transport.h"

tide__transport *tide__transport_new(const tide_config *cfg, const tide__transport_hooks *hooks,
                                     tide_error *e)
{
    (void)hooks;
    tide_err_set(e, TIDE_ENET, "this build has no network transport: cannot run %u processes",
                 cfg->processes);
    return NULL;
}

int tide__transport_send(tide__transport *t, uint32_t src_local, uint32_t dst, tide__msg *m)
{
    return TIDE_ENET;
}

int tide__transport_broadcast(tide__transport *t, uint32_t src_local, tide__msg *m)
{
    return TIDE_ENET;
}

int tide__transport_flush(tide__transport *t, uint32_t src_local)
{
    return TIDE_OK;
}

void tide__transport_free(tide__transport *t) {}
