/*
 * The attestchain benchmark: which phases run, in which order.
 * Each operation is timed next to the limit the machine sets for it, both
 * measured in the same run on the same filesystem; prints one table; exit
 * status 0 when every target is met, 1 when one is missed, 2 when the
 * benchmark could not run.
 *
 *   bench [--records N] [--file-mb N] [--quick] [--dir DIR] [--tool PATH]
 *         [--single N] [--gets N] [--keep] [--markdown] [--only PHASES]
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
    if (phase_wanted(&b, "durable"))
        phase_durable(&b);
    if (phase_wanted(&b, "batch"))
        phase_batch(&b);
    if (phase_wanted(&b, "tree_append"))
        phase_tree_append(&b);
    if (phase_wanted(&b, "build"))
        phase_build(&b);
    if (phase_wanted(&b, "verify"))
        phase_verify(&b);
    if (phase_wanted(&b, "open"))
        phase_open(&b);
    if (phase_wanted(&b, "rebuild"))
        phase_rebuild(&b);
    if (phase_wanted(&b, "get"))
        phase_get(&b);
    if (phase_wanted(&b, "export"))
        phase_export(&b); /* signs the checkpoint that phase_tree_rebuild proves against */
    if (phase_wanted(&b, "tree_rebuild"))
        phase_tree_rebuild(&b);
    if (phase_wanted(&b, "scale"))
        phase_scale(&b);
    if (phase_wanted(&b, "file"))
        phase_file(&b);
    return bench_finish(&b, t0, load_start);
}
