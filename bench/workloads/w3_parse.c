/* bench/workloads/w3_parse.c - W3, recursive call paths: the caller-cache workload.
 *
 * A recursive-descent parser of generated arithmetic expressions. Every node
 * of the syntax tree is allocated by the same two call sites (new_node,
 * new_name), reached through the mutually recursive parse_expr -> parse_term
 * -> parse_unary -> parse_primary -> parse_expr ..., so the same site is
 * reached at a different stack depth on nearly every call: 4 to 23 frames
 * from main, half of the calls at 10 or more (each level of parentheses adds
 * four, a unary minus one).
 * The parsed trees are kept in a ring whose size rises and falls in waves,
 * then freed by a recursive walk; so malloc and free churn as in W1, but
 * through stacks W1 never has.
 *
 * The shapes are bounded (one unary minus at most, four name lengths, three
 * levels of parentheses): about 20,000 distinct (size, stack) pairs.
 * heaptrack 1.4.0's heaptrack_interpret dies (std::bad_alloc, 19 GB) past
 * about 60,000 of them, which W3 with names of every length 2..25 reached.
 *
 * Every parse function is noinline and does work after its recursive call
 * (a check of the next token, a store into the node), so no frame is merged
 * or tail-called away; the CMake target adds -fno-optimize-sibling-calls.
 *
 * Deterministic: a fixed seed; the checksum sums each tree's value, node and
 * name counts, the same in every run and under every profiler. Prints the
 * exact number of allocations and frees (the bench's event count).
 *
 * Usage: bench_w3 [--allocs M]   (M = allocations to make, at least)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_options.h"
#include "bench_random.h"
#include "peak_rss.h"

#define RING_CAP 8192u          /* max live trees */
#define WAVE_PERIOD (1u << 16)  /* trees parsed per rise and fall of the ring */
#define TEXT_CAP 4096u          /* bytes of one generated expression */
#define MAX_NEST 3              /* levels of parentheses */

enum kind { NUM, NAME, NEG, ADD, SUB, MUL, DIV };

struct node {
    enum kind kind;
    int64_t value;
    struct node *a, *b;
    char *name; /* NAME only: its own allocation */
};

struct run {
    uint64_t rng;
    uint64_t allocs, frees, checksum;
};

struct parser {
    const char *s;
    struct run *r;
};

static void die(const char *what)
{
    fprintf(stderr, "bench_w3: %s\n", what);
    exit(3);
}

/* ---- generating the text ----------------------------------------------- */

struct text {
    char buf[TEXT_CAP];
    size_t n;
};

static void put(struct text *t, char c)
{
    if (t->n + 1 < TEXT_CAP)
        t->buf[t->n++] = c;
}

static void gen_expr(struct text *t, uint64_t *rng, int nest);

static void gen_primary(struct text *t, uint64_t *rng, int nest)
{
    static const unsigned name_lens[] = {2, 6, 14, 30};
    uint64_t r = next_random(rng);
    if (r % 8 == 0)
        put(t, '-');
    if (nest < MAX_NEST && (r >> 8) % 3 == 0) {
        put(t, '(');
        gen_expr(t, rng, nest + 1);
        put(t, ')');
    } else if ((r >> 16) % 4 == 0) {
        unsigned len = name_lens[(r >> 24) % 4];
        for (unsigned i = 0; i < len; i++)
            put(t, (char)('a' + (r >> (32 + i % 24)) % 26));
    } else {
        unsigned len = 1 + (unsigned)((r >> 24) % 4);
        for (unsigned i = 0; i < len; i++)
            put(t, (char)('0' + (r >> (32 + 3 * i)) % 10));
    }
}

static void gen_expr(struct text *t, uint64_t *rng, int nest)
{
    static const char ops[] = "+-*/";
    unsigned operands = 1 + (unsigned)(next_random(rng) % (nest == 0 ? 6 : 3));
    for (unsigned i = 0; i < operands; i++) {
        if (i)
            put(t, ops[next_random(rng) % 4]);
        gen_primary(t, rng, nest);
    }
}

/* ---- the parser: every node from new_node / new_name --------------------- */

__attribute__((noinline)) static struct node *new_node(struct parser *p, enum kind k)
{
    struct node *n = malloc(sizeof *n);
    if (!n)
        die("out of memory");
    memset(n, 0, sizeof *n);
    n->kind = k;
    p->r->allocs++;
    return n;
}

__attribute__((noinline)) static char *new_name(struct parser *p, const char *s, size_t len)
{
    char *c = malloc(len + 1);
    if (!c)
        die("out of memory");
    memcpy(c, s, len);
    c[len] = 0;
    p->r->allocs++;
    return c;
}

static struct node *parse_expr(struct parser *p);

__attribute__((noinline)) static struct node *parse_primary(struct parser *p)
{
    const char *s = p->s;
    if (*s == '(') {
        p->s++;
        struct node *e = parse_expr(p);
        if (*p->s != ')')
            die("parse error: ')' expected");
        p->s++;
        return e;
    }
    if (*s >= 'a' && *s <= 'z') {
        while (*p->s >= 'a' && *p->s <= 'z')
            p->s++;
        struct node *n = new_node(p, NAME);
        n->name = new_name(p, s, (size_t)(p->s - s));
        n->value = (int64_t)(p->s - s);
        return n;
    }
    if (*s < '0' || *s > '9')
        die("parse error: operand expected");
    int64_t v = 0;
    while (*p->s >= '0' && *p->s <= '9')
        v = v * 10 + (*p->s++ - '0');
    struct node *n = new_node(p, NUM);
    n->value = v;
    return n;
}

__attribute__((noinline)) static struct node *parse_unary(struct parser *p)
{
    if (*p->s != '-')
        return parse_primary(p);
    p->s++;
    struct node *n = new_node(p, NEG);
    n->a = parse_unary(p);
    return n;
}

__attribute__((noinline)) static struct node *parse_term(struct parser *p)
{
    struct node *left = parse_unary(p);
    while (*p->s == '*' || *p->s == '/') {
        struct node *n = new_node(p, *p->s++ == '*' ? MUL : DIV);
        n->a = left;
        n->b = parse_unary(p);
        left = n;
    }
    return left;
}

__attribute__((noinline)) static struct node *parse_expr(struct parser *p)
{
    struct node *left = parse_term(p);
    while (*p->s == '+' || *p->s == '-') {
        struct node *n = new_node(p, *p->s++ == '+' ? ADD : SUB);
        n->a = left;
        n->b = parse_term(p);
        left = n;
    }
    return left;
}

__attribute__((noinline)) static struct node *parse_text(struct parser *p)
{
    struct node *n = parse_expr(p);
    if (*p->s != 0)
        die("parse error: trailing text");
    return n;
}

/* ---- using and freeing the trees ---------------------------------------- */

static int64_t eval(const struct node *n)
{
    int64_t a, b;
    switch (n->kind) {
    case NUM:
    case NAME: return n->value;
    case NEG: return -eval(n->a);
    default: break;
    }
    a = eval(n->a);
    b = eval(n->b);
    switch (n->kind) {
    case ADD: return a + b;
    case SUB: return a - b;
    case MUL: return (int64_t)((uint64_t)a * (uint64_t)b);
    default: return b ? a / (b | 1) : a;
    }
}

__attribute__((noinline)) static void free_tree(struct run *r, struct node *n)
{
    if (!n)
        return;
    free_tree(r, n->a);
    free_tree(r, n->b);
    if (n->name) {
        r->checksum += (unsigned char)n->name[0];
        free(n->name);
        r->frees++;
    }
    free(n);
    r->frees++;
}

/* Ring target: a triangle wave between 1/64 of RING_CAP and all of it. */
static uint32_t ring_target(uint64_t step)
{
    uint64_t ph = step % WAVE_PERIOD, half = WAVE_PERIOD / 2;
    uint64_t up = ph < half ? ph : WAVE_PERIOD - ph;
    return (uint32_t)(RING_CAP / 64 + up * (RING_CAP - RING_CAP / 64 - 1) / half);
}

static int parse_args(int argc, char **argv, uint64_t *allocs)
{
    const struct bench_option opt[] = {{"--allocs", allocs}};
    return bench_options(argc, argv, opt, 1) == 0 && *allocs > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    uint64_t todo = 8000000;
    if (parse_args(argc, argv, &todo) != 0) {
        fprintf(stderr, "usage: bench_w3 [--allocs M]\n");
        return 2;
    }
    struct run r = {.rng = 0x9E3779B97F4A7C15ULL};
    struct node **ring = calloc(RING_CAP, sizeof *ring);
    static struct text t;
    if (!ring)
        die("out of memory");
    uint32_t head = 0, live = 0; /* live trees: ring[head - live .. head) */
    uint64_t trees = 0;
    for (uint64_t step = 0; r.allocs < todo; step++) {
        /* Parse one tree, then free the oldest until at the wave's target. */
        t.n = 0;
        gen_expr(&t, &r.rng, 0);
        t.buf[t.n] = 0;
        struct parser p = {.s = t.buf, .r = &r};
        struct node *n = parse_text(&p);
        r.checksum += (uint64_t)eval(n);
        ring[head] = n;
        head = (head + 1) % RING_CAP;
        live++;
        trees++;
        uint32_t target = ring_target(step);
        while (live > target || live == RING_CAP) {
            free_tree(&r, ring[(head + RING_CAP - live) % RING_CAP]);
            live--;
        }
    }
    while (live) {
        free_tree(&r, ring[(head + RING_CAP - live) % RING_CAP]);
        live--;
    }
    free(ring);
    printf("w3 trees=%llu allocs=%llu frees=%llu events=%llu checksum=%016llx "
           "hwm_kib=%lu\n",
           (unsigned long long)trees, (unsigned long long)r.allocs, (unsigned long long)r.frees,
           (unsigned long long)(r.allocs + r.frees), (unsigned long long)r.checksum,
           bench_peak_rss_kib());
    return r.allocs == r.frees ? 0 : 1;
}
