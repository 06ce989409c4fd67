/* The state of an interruptible, resumable run (issue 15): DIR/run.json records the
 * settings, "complete" and the finished blocks; every finished block's spectrum is in
 * DIR/blocks/<model>.<index>.json (Ritz nodes and weights per probe, %.17g: exact). Each
 * file is written atomically (outdir_close), so at any moment the set is valid. */
#ifndef HB_TOOL_RUNSTATE_H
#define HB_TOOL_RUNSTATE_H

#include "cli.h"

typedef struct run_setting {
    char key[40];
    char value[200];
} run_setting;

typedef struct run_block {
    char model[16];
    size_t index;
    char name[128];
} run_block;

typedef struct run_state {
    const char *cmd;
    char dir[4096], blocks_dir[4200];
    run_setting settings[48];
    size_t nsettings;
    run_block *done;             /* finished blocks, in order */
    size_t ndone, cap;
    int resumed;
    double pause_after_block;    /* tests: HESSBLOCK_TEST_PAUSE_AFTER_BLOCK seconds */
} run_state;

/* Records one setting (printf-style value); the set is compared on --resume. */
void runstate_set(run_state *rs, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Starts a run in dir (resume = 0: a fresh run; the finished list is emptied and the
 * result file `result_name` of an earlier run removed) or continues one (resume = 1: the
 * settings must equal the recorded ones; every mismatch is printed with both values).
 * Writes run.json with "complete": false. Returns 0, EXIT_USAGE (mismatch, no run there)
 * or EXIT_RUNTIME. */
int runstate_start(run_state *rs, const char *cmd, const char *dir, int resume,
                   const char *result_name);
/* The spectrum of block (model, index), when a finished block of the recorded run:
 * returns 1 and *out (rebuilt bit for bit on ctx), 0 when not finished, -1 on error
 * (message printed). The block's name must match the recorded one. */
int runstate_load_block(run_state *rs, hb_context *ctx, const char *model, size_t index,
                        const char *name, hb_spectrum **out);
/* Saves a finished block and adds it to run.json. Returns 0 or -1 (message printed). */
int runstate_save_block(run_state *rs, const char *model, size_t index, const char *name,
                        const hb_spectrum *sp, uint64_t stream);
/* Rewrites run.json with the "complete" flag. Returns 0 or -1. */
int runstate_finish(run_state *rs, int complete);
void runstate_free(run_state *rs);

#endif
