/* noentry.c - test job: a shared object without tide_job_main. */
#include <stdint.h>

#include "tide/job.h"

__attribute__((visibility("default"))) const uint32_t tide_job_abi_version = TIDE_JOB_ABI_VERSION;
int tide_test_not_an_entry(void);
int tide_test_not_an_entry(void)
{
    return 0;
}
