/* badabi.c - test object: the entry point, but a job ABI version no cluster runs. */
#include <stdint.h>

__attribute__((visibility("default"))) const uint32_t tide_job_abi_version = 999;

int tide_job_main(void *w, int argc, char **argv, void *job);
__attribute__((visibility("default"))) int tide_job_main(void *w, int argc, char **argv, void *job)
{
    return 0;
}
