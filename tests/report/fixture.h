/* tests/report/fixture.h - a hand-built struct tm_model for the report tests:
 * the seed's story (a gomap of int64 -> [128]byte grows to 1,000,000 entries,
 * all are deleted, the 307,494,912-byte bucket array stays) plus a second,
 * healthy table, a heap with sites, stacks and one module, and hostile
 * strings (markup, quotes, ';' and newlines) everywhere the trace supplies
 * text. The figures are the seed's, not the analyzer's output: renderers
 * must show what the model says.
 */
#ifndef TMK_TESTS_REPORT_FIXTURE_H
#define TMK_TESTS_REPORT_FIXTURE_H

#include <string.h>

#include "model/model.h"
#include "tidemark/annotate.h"

#define FX_SEC 1000000000ull
#define FX_SEED_HELD 307494912ull /* 2^18 + 2^14 buckets of 1,104 bytes */
#define FX_EVIL_LABEL "<script>alert(\"x\")</script> & 'q'"
#define FX_EVIL_SITE "evil<b>;site\nfile.c:42"

struct fixture {
    struct tm_model m;
    struct tm_table tables[3];
    struct tm_point tl0[24], tl1[4];
    struct tm_recommendation recs0[3];
    struct tm_site top_peak[2], top_end[1];
    struct tm_heap_point heap_tl[6];
    struct tm_stack_heap by_stack[2];
    uint64_t frames1[3], frames2[2], frames3[2];
    struct tm_stack stacks[3];
    struct tm_module modules[1];
    char *warnings[1];
};

/* The seed table's growth: gomap doubles B from 0 to 18; bucket arrays of
 * 1,104-byte buckets (sizes here are the model's, not recomputed). */
static void fx_seed_timeline(struct fixture *f)
{
    size_t n = 0;
    uint64_t held = 1104;
    f->tl0[n++] = (struct tm_point){0, held, 0};
    for (int b = 1; b <= 18 && n < 20; b++) {
        held *= 2;
        uint64_t t = FX_SEC * (uint64_t)b / 9;
        uint64_t live = (uint64_t)(6.5 * (double)(1u << (b - 1)));
        f->tl0[n++] = (struct tm_point){t, b == 18 ? FX_SEED_HELD : held, live};
    }
    f->tl0[n++] = (struct tm_point){FX_SEC * 21 / 10, FX_SEED_HELD, 1000000};
    f->tl0[n++] = (struct tm_point){FX_SEC * 3, FX_SEED_HELD, 500000};
    f->tl0[n++] = (struct tm_point){FX_SEC * 4, FX_SEED_HELD, 0};
    f->tl0[n++] = (struct tm_point){FX_SEC * 5, FX_SEED_HELD, 0};
    f->m.tables[0].timeline = f->tl0;
    f->m.tables[0].n_points = n;
}

static void fx_build(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    struct tm_model *m = &f->m;
    m->info.path = (char *)"/tmp/run \"1\" <x>.tmk";
    m->info.version_major = 1;
    m->info.mode = "full";
    m->info.pid = 4242;
    m->info.duration_ns = 5 * FX_SEC;
    m->info.at = 5 * FX_SEC;
    m->info.ended = 1;
    m->info.records = 2000123;
    m->info.blocks = 31;
    m->info.threads = 1;
    f->warnings[0] = (char *)"/opt/app<1>: build-id differs; showing offsets";
    m->info.warnings = f->warnings;
    m->info.n_warnings = 1;
    m->opts.symbolize = 0;

    m->tables = f->tables;
    m->n_tables = 2;
    m->n_oversized = 1;
    m->total_retained = FX_SEED_HELD - 1104;

    struct tm_table *t = &f->tables[0];
    t->id = 1;
    t->kind = TMK_KIND_GOMAP;
    t->model = TM_MODEL_GOMAP;
    t->label = (char *)FX_EVIL_LABEL;
    t->stack_id = 1;
    t->site = (char *)FX_EVIL_SITE;
    t->key_size = 8;
    t->value_size = 128;
    t->bucket_size = 1104;
    t->slots_per_bucket = 8;
    t->ended_t = TM_NO_TIME;
    t->buckets_now = t->buckets_peak = 1u << 18;
    t->live_now = 0;
    t->live_peak = 1000000;
    t->live_peak_t = FX_SEC * 21 / 10;
    t->held = t->held_peak = FX_SEED_HELD;
    t->held_peak_t = 2 * FX_SEC;
    t->arrays_live = 1;
    t->growths = 18;
    t->needed = 1104;
    t->retained = FX_SEED_HELD - 1104;
    t->oversized_since = 4 * FX_SEC;
    t->verdict = TM_VERDICT_OVERSIZED;
    f->recs0[0] = (struct tm_recommendation){TM_REC_CLONE, FX_SEED_HELD - 1104,
                                             (char *)"Copy the live entries into a new map <now>."};
    f->recs0[1] = (struct tm_recommendation){TM_REC_POINTER_VALUES, 267386880,
                                             (char *)"Store pointers to the values."};
    f->recs0[2] = (struct tm_recommendation){TM_REC_RESTART, 0, (char *)"Restart the process."};
    t->recs = f->recs0;
    t->n_recs = 3;
    fx_seed_timeline(f);

    t = &f->tables[1];
    t->id = 2;
    t->kind = TMK_KIND_UTHASH;
    t->model = TM_MODEL_UTHASH;
    t->label = (char *)"sessions;by\nid";
    t->stack_id = 2;
    t->site = (char *)"session.c:17";
    t->key_size = 16;
    t->value_size = 64;
    t->bucket_size = 16;
    t->ended_t = TM_NO_TIME;
    t->buckets_now = t->buckets_peak = 64;
    t->live_now = t->live_peak = 300;
    t->live_peak_t = 3 * FX_SEC;
    t->held = t->held_peak = 1024;
    t->held_peak_t = FX_SEC;
    t->needed = 1024;
    t->oversized_since = TM_NO_TIME;
    t->verdict = TM_VERDICT_OK;
    f->tl1[0] = (struct tm_point){FX_SEC / 2, 512, 10};
    f->tl1[1] = (struct tm_point){FX_SEC, 1024, 200};
    f->tl1[2] = (struct tm_point){3 * FX_SEC, 1024, 300};
    f->tl1[3] = (struct tm_point){5 * FX_SEC, 1024, 300};
    t->timeline = f->tl1;
    t->n_points = 4;

    struct tm_heap *h = &m->heap;
    h->tracked = 1;
    h->peak_bytes = 500000000;
    h->peak_t = 2 * FX_SEC;
    h->in_use = FX_SEED_HELD + 1000;
    h->allocs = 1000100;
    h->frees = 1000050;
    h->alloc_bytes = 900000000;
    h->live_allocs = 50;
    f->top_peak[0] = (struct tm_site){1, (char *)FX_EVIL_SITE, FX_SEED_HELD, 19};
    f->top_peak[1] = (struct tm_site){3, (char *)"values.c:9", 150000000, 1000000};
    h->top_peak = f->top_peak;
    h->n_top_peak = 2;
    f->top_end[0] = (struct tm_site){1, (char *)FX_EVIL_SITE, FX_SEED_HELD, 19};
    h->top_end = f->top_end;
    h->n_top_end = 1;
    uint64_t heap[6] = {0, 1000000, 500000000, 400000000, FX_SEED_HELD + 1000,
                        FX_SEED_HELD + 1000};
    for (int i = 0; i < 6; i++)
        f->heap_tl[i] = (struct tm_heap_point){FX_SEC * (uint64_t)i, heap[i], heap[i] + 4000000};
    h->timeline = f->heap_tl;
    h->n_points = 6;
    h->rss_peak = 504000000;
    /* Per stack: the peak's 42,505,088 other bytes are in no stack. */
    f->by_stack[0] = (struct tm_stack_heap){1, FX_SEED_HELD, FX_SEED_HELD, 600000000, 100};
    f->by_stack[1] = (struct tm_stack_heap){3, 150000000, 1000, 300000000, 1000000};
    h->by_stack = f->by_stack;
    h->n_by_stack = 2;

    /* Stacks, innermost first: 1 = table creation, 2 = session table,
     * 3 = value allocations. Addresses lie in no module: unsymbolized. */
    f->frames1[0] = 0x1010; f->frames1[1] = 0x1020; f->frames1[2] = 0x1030;
    f->frames2[0] = 0x2010; f->frames2[1] = 0x1030;
    f->frames3[0] = 0x3010; f->frames3[1] = 0x1030;
    f->stacks[0] = (struct tm_stack){1, 3, f->frames1, 0};
    f->stacks[1] = (struct tm_stack){2, 2, f->frames2, 0};
    f->stacks[2] = (struct tm_stack){3, 2, f->frames3, 0};
    m->stacks = f->stacks;
    m->n_stacks = 3;
}

#endif
