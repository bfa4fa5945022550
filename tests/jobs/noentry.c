/* noentry.c - test object: a shared object with the ABI version but no entry point. */
#include <stdint.h>

__attribute__((visibility("default"))) const uint32_t tide_job_abi_version = 1;

int not_the_entry(void);
int not_the_entry(void)
{
    return 0;
}
