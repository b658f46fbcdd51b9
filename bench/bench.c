/*
 * The attestchain benchmark: which phases run, in which order.
 * Each operation is timed next to the limit the machine sets for it, both
 * measured in the same run on the same filesystem; prints one table; exit
 * status 0 when every target is met, 1 when one is missed, 2 when the
 * benchmark could not run.
 *
 *   bench [--records N] [--file-mb N] [--quick] [--dir DIR] [--tool PATH]
 *         [--single N] [--gets N] [--keep] [--markdown]
 *
 * Decision: the order is part of the method.  The small chains' appends come
 * first; then the big chain is built once and every phase that reads it
 * runs before any that appends to it (verification early, while this
 * process is small: see run_verify); the big file last, since it is the
 * largest thing in the page cache.
 */
#include "bench.h"

int main(int argc, char **argv)
{
    static bench b; /* static: PATH_MAX buffers and the batch stay off the stack */
    double t0 = now_s(), load_start = load1();
    bench_start(&b, argc, argv);
    phase_durable(&b);
    phase_batch(&b);
    phase_tree_append(&b);
    phase_build(&b);
    phase_verify(&b);
    phase_open(&b);
    phase_rebuild(&b);
    phase_get(&b);
    phase_export(&b); /* signs the checkpoint that phase_tree_rebuild proves against */
    phase_tree_rebuild(&b);
    phase_scale(&b);
    phase_file(&b);
    return bench_finish(&b, t0, load_start);
}
