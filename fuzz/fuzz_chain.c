/* fuzz_chain: an arbitrary chain.bin, opened, verified (one thread and two),
 * iterated, read by index and at its head, then appended to by the key the
 * writer names as authorized.  The input is the whole chain.bin; the checks
 * are those of chain_checks.h. */
#include "chain_checks.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    chain_checks_init("chain");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)chain_checks_run(data, size);
    return 0;
}
