/* tests/report/test_collapsed.c - the collapsed-stack report on the fixture
 * model: root-first frames, ';'/newline sanitized, the right weights, every
 * heap stack, and lines that sum to the totals the model states for each
 * weight (retained: total_retained; peak: heap.peak_bytes; end: in_use;
 * alloc_bytes; allocs); the stack format flamegraph.pl parses ("frames SPACE
 * integer", no empty frame); the weights' names.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "render.h"
#include "report/report.h"

static char *render(const struct tm_model *m, enum tm_weight w)
{
    return render_report(tm_report_collapsed, m, 0, w, NULL);
}

/* Checks every line's shape; returns the sum of the weights. */
static uint64_t check_lines(const char *text, size_t *nlines)
{
    uint64_t sum = 0;
    *nlines = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        CHECK(nl != NULL);
        if (!nl) break;
        const char *sp = nl;
        while (sp > p && sp[-1] != ' ') sp--;
        CHECK(sp > p + 1); /* a stack, a space, a weight */
        char *end;
        unsigned long long w = strtoull(sp, &end, 10);
        CHECK(end == nl && w > 0);
        sum += w;
        for (const char *q = p; q < sp - 1; q++) {
            CHECK(*q != '\r' && *q != '\t');
            if (*q == ';') CHECK(q > p && q[1] != ';' && q + 1 < sp - 1); /* no empty frame */
        }
        (*nlines)++;
        p = nl + 1;
    }
    return sum;
}

static void test_retained(const struct tm_model *m)
{
    char *text = render(m, TM_WEIGHT_RETAINED);
    size_t n;
    CHECK(check_lines(text, &n) == m->total_retained);
    CHECK(n == 1); /* only the seed table retains bytes */
    /* Stack 1 is 0x1010 <- 0x1020 <- 0x1030 innermost first: root first
     * here, then the table as the leaf; its label's markup is kept (plain
     * text format), but nothing breaks a line or a frame. */
    char want[256];
    snprintf(want, sizeof want,
             "0x1030;0x1020;0x1010;[table 1 gomap <script>alert(\"x\")</script> & 'q'] %" PRIu64
             "\n",
             (uint64_t)(FX_SEED_HELD - 1104));
    CHECK_STR(text, want);
    free(text);
}

static void test_peak(const struct tm_model *m)
{
    char *text = render(m, TM_WEIGHT_PEAK);
    size_t n;
    CHECK(check_lines(text, &n) == m->heap.peak_bytes);
    CHECK(tm_weight_total(m, TM_WEIGHT_PEAK) == m->heap.peak_bytes);
    CHECK(n == 3);
    CHECK_CONTAINS(text, "0x1030;0x1020;0x1010 307494912\n");
    CHECK_CONTAINS(text, "0x1030;0x3010 150000000\n");
    CHECK_CONTAINS(text, "[unattributed] 42505088\n"); /* 500,000,000 - both stacks */
    free(text);
}

/* end, alloc_bytes, allocs: one line per stack, summing to the heap's totals. */
static void test_heap_weights(const struct tm_model *m)
{
    static const struct {
        enum tm_weight w;
        const char *line1, *line3;
    } cases[] = {
        {TM_WEIGHT_END, "0x1030;0x1020;0x1010 307494912\n", "0x1030;0x3010 1000\n"},
        {TM_WEIGHT_ALLOC_BYTES, "0x1030;0x1020;0x1010 600000000\n", "0x1030;0x3010 300000000\n"},
        {TM_WEIGHT_ALLOCS, "0x1030;0x1020;0x1010 100\n", "0x1030;0x3010 1000000\n"},
    };
    uint64_t totals[] = {m->heap.in_use, m->heap.alloc_bytes, m->heap.allocs};
    for (size_t i = 0; i < 3; i++) {
        char *text = render(m, cases[i].w);
        size_t n;
        CHECK(check_lines(text, &n) == totals[i]);
        CHECK(tm_weight_total(m, cases[i].w) == totals[i]);
        CHECK(n == 2);
        CHECK_CONTAINS(text, cases[i].line1);
        CHECK_CONTAINS(text, cases[i].line3);
        free(text);
    }
}

static void test_weight_names(void)
{
    const char *names[] = {"retained", "peak", "end", "alloc_bytes", "allocs"};
    for (int i = 0; i < 5; i++) {
        enum tm_weight w = TM_WEIGHT_PEAK;
        CHECK(tm_weight_parse(names[i], &w) == 0 && w == (enum tm_weight)i);
        CHECK_STR(tm_weight_name(w), names[i]);
    }
    enum tm_weight w;
    CHECK(tm_weight_parse("bytes", &w) == -1);
}

/* A weight with nothing in it gives no line at all and a total of 0 (the
 * command warns on that total). */
static void test_empty_weight(struct tm_model *m)
{
    uint64_t saved = m->total_retained;
    size_t nt = m->n_tables;
    m->n_tables = 0;
    m->total_retained = 0;
    char *text = render(m, TM_WEIGHT_RETAINED);
    CHECK_STR(text, "");
    CHECK(tm_weight_total(m, TM_WEIGHT_RETAINED) == 0);
    free(text);
    m->n_tables = nt;
    m->total_retained = saved;
    m->heap.tracked = 0; /* no heap: its weights are empty, peak falls back to tables */
    text = render(m, TM_WEIGHT_END);
    CHECK_STR(text, "");
    CHECK(tm_weight_total(m, TM_WEIGHT_ALLOCS) == 0);
    free(text);
    m->heap.tracked = 1;
}

static void test_tables_mode_peak(struct tm_model *m)
{
    /* mode=tables: no heap; peak weight falls back to each table's peak. */
    m->heap.tracked = 0;
    char *text = render(m, TM_WEIGHT_PEAK);
    size_t n;
    CHECK(check_lines(text, &n) == FX_SEED_HELD + 1024);
    CHECK(n == 2);
    /* The second label "sessions;by\nid" loses its ';' and newline. */
    CHECK_CONTAINS(text, "0x1030;0x2010;[table 2 uthash sessions:by id] 1024\n");
    m->heap.tracked = 1;
    free(text);
}

static void test_missing_stacks(struct tm_model *m)
{
    m->tables[0].stack_id = 99; /* never defined (truncated trace) */
    char *text = render(m, TM_WEIGHT_RETAINED);
    CHECK(strncmp(text, "[unknown stack];[table 1 ", 25) == 0);
    free(text);
    m->tables[0].stack_id = 0;
    text = render(m, TM_WEIGHT_RETAINED);
    CHECK(strncmp(text, "[no stack];[table 1 ", 20) == 0);
    free(text);
    m->tables[0].stack_id = 1;
}

/* The shim's frames (a module named libtidemark*.so) never appear: here
 * 0x1030, the root of every fixture stack, lies in it, also unsymbolized. */
static void test_shim_frames_dropped(struct fixture *f)
{
    f->modules[0] = (struct tm_module){7, 0x1000, 0x1030, 0x1040, NULL, 0,
                                       (char *)"/usr/lib/libtidemark.so", 0, 0, 0};
    f->m.modules = f->modules;
    f->m.n_modules = 1;
    char *text = render(&f->m, TM_WEIGHT_PEAK);
    CHECK(strncmp(text, "0x1020;0x1010 307494912\n", 24) == 0);
    CHECK_CONTAINS(text, "\n0x3010 150000000\n");
    CHECK(strstr(text, "0x1030") == NULL);
    free(text);
    f->m.n_modules = 0;
}

int main(void)
{
    struct fixture f;
    fx_build(&f);
    test_retained(&f.m);
    test_peak(&f.m);
    test_heap_weights(&f.m);
    test_weight_names();
    test_empty_weight(&f.m);
    test_tables_mode_peak(&f.m);
    test_missing_stacks(&f.m);
    test_shim_frames_dropped(&f);
    return check_status();
}
