/* analyzer/cli/cmd_dump.c - `tidemark dump TRACE`: every record as one line of
 * text, in the merged order the analyzer sees them (for debugging the shim
 * and for tests). Strings are printed with non-printable bytes as \xNN.
 * Heap records by info (3.x) are printed as they are: size and stack. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "read/reader.h"

static void put_escaped(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
            fprintf(out, "\\x%02x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

/* An extended record of two u fields (BOUND, PROBE_OFF); its length when
 * they are cut. */
static void dump_two_fields(const struct tm_record *r, const char *a, const char *b, FILE *out)
{
    const uint8_t *p = r->u.extended.data, *e = p + r->u.extended.len;
    uint64_t x, y;
    if (tmk_get_u(&p, e, &x) == 0 && tmk_get_u(&p, e, &y) == 0)
        fprintf(out, " %s=%llu %s=%llu", a, (unsigned long long)x, b, (unsigned long long)y);
    else
        fprintf(out, " len=%llu", (unsigned long long)r->u.extended.len);
}

/* PROBE (docs/trace-format.md): the block and its counters, by name. */
static void dump_probe(const struct tm_record *r, FILE *out)
{
    static const char *const names[] = {"ptr", "size", "nz64", "u32ge2", "pairs00",
                                        "sum16", "layout", "capacity", "live"};
    const uint8_t *p = r->u.extended.data, *e = p + r->u.extended.len;
    uint64_t v[9];
    for (size_t k = 0; k < 9; k++)
        if (tmk_get_u(&p, e, &v[k])) {
            fprintf(out, " type=0x%02x len=%llu", r->type, (unsigned long long)r->u.extended.len);
            return;
        }
    for (size_t k = 0; k < 9; k++)
        fprintf(out, k == 0 ? " %s=0x%llx" : " %s=%llu", names[k], (unsigned long long)v[k]);
}

static int dump_record(void *ctx, const struct tm_record *r)
{
    FILE *out = ctx;
    fprintf(out, "%llu th=%u %s", (unsigned long long)r->t, r->thread,
            tm_record_type_name(r->type));
    switch (r->type) {
    case TMK_REC_ALLOC:
        fprintf(out, " ptr=0x%llx size=%llu stack=%llu", (unsigned long long)r->u.alloc.ptr,
                (unsigned long long)r->u.alloc.size, (unsigned long long)r->u.alloc.stack);
        break;
    case TMK_REC_FREE:
        fprintf(out, " ptr=0x%llx", (unsigned long long)r->u.free.ptr);
        break;
    case TMK_REC_ALLOC_INFO:
    case TMK_REC_FREE_INFO:
        fprintf(out, " size=%llu stack=%llu", (unsigned long long)r->u.by_info.size,
                (unsigned long long)r->u.by_info.stack);
        break;
    case TMK_REC_TICK:
        break;
    case TMK_REC_STACK:
        fprintf(out, " id=%llu depth=%u", (unsigned long long)r->u.stack.id, r->u.stack.depth);
        for (uint32_t i = 0; i < r->u.stack.depth; i++)
            fprintf(out, " 0x%llx", (unsigned long long)r->u.stack.frames[i]);
        break;
    case TMK_REC_MODULE:
        fprintf(out, " id=%llu bias=0x%llx start=0x%llx end=0x%llx build_id=",
                (unsigned long long)r->u.module.id, (unsigned long long)r->u.module.bias,
                (unsigned long long)r->u.module.start, (unsigned long long)r->u.module.end);
        for (size_t i = 0; i < r->u.module.build_id_len; i++)
            fprintf(out, "%02x", r->u.module.build_id[i]);
        fputs(" path=", out);
        put_escaped(out, r->u.module.path, r->u.module.path_len);
        break;
    case TMK_REC_MODULE_GONE:
        fprintf(out, " id=%llu", (unsigned long long)r->u.module_gone.id);
        break;
    case TMK_REC_TABLE_NEW: {
        const __typeof__(r->u.table_new) *t = &r->u.table_new;
        fprintf(out, " table=%llu kind=%llu flags=0x%llx key=%llu value=%llu bucket=%llu "
                     "slots=%llu hint=%llu stack=%llu label=",
                (unsigned long long)t->table, (unsigned long long)t->kind,
                (unsigned long long)t->flags, (unsigned long long)t->key_size,
                (unsigned long long)t->value_size, (unsigned long long)t->bucket_size,
                (unsigned long long)t->slots, (unsigned long long)t->hint,
                (unsigned long long)t->stack);
        put_escaped(out, t->label, t->label_len);
        break;
    }
    case TMK_REC_TABLE_ARRAY: {
        const __typeof__(r->u.table_array) *a = &r->u.table_array;
        fprintf(out, " table=%llu ptr=0x%llx bytes=%llu buckets=%llu reason=%llu live=%llu "
                     "stack=%llu",
                (unsigned long long)a->table, (unsigned long long)a->ptr,
                (unsigned long long)a->bytes, (unsigned long long)a->buckets,
                (unsigned long long)a->reason, (unsigned long long)a->live,
                (unsigned long long)a->stack);
        if (a->by_info)
            fprintf(out, " info=%llu@%llu", (unsigned long long)a->info_size,
                    (unsigned long long)a->info_stack);
        break;
    }
    case TMK_REC_TABLE_COUNT:
    case TMK_REC_TABLE_END:
    case TMK_REC_TABLE_PEAK:
        fprintf(out, " table=%llu %s=%llu", (unsigned long long)r->u.table_count.table,
                r->type == TMK_REC_TABLE_PEAK ? "peak" : "live",
                (unsigned long long)r->u.table_count.live);
        break;
    case TMK_REC_MEMORY:
        fprintf(out, " rss=%llu heap=%llu", (unsigned long long)r->u.memory.rss,
                (unsigned long long)r->u.memory.heap);
        break;
    case TMK_REC_THREAD:
        fprintf(out, " tid=%llu name=", (unsigned long long)r->u.thread.tid);
        put_escaped(out, r->u.thread.name, r->u.thread.name_len);
        break;
    case TMK_REC_LOST:
        fprintf(out, " count=%llu", (unsigned long long)r->u.lost.count);
        break;
    case TMK_REC_END:
        fprintf(out, " why=%llu status=%llu", (unsigned long long)r->u.end.why,
                (unsigned long long)r->u.end.status);
        break;
    case TMK_REC_BOUND:
        dump_two_fields(r, "what", "bound", out);
        break;
    case TMK_REC_PROBE_OFF:
        dump_two_fields(r, "why", "err", out);
        break;
    case TMK_REC_PROBE:
        dump_probe(r, out);
        break;
    default:
        fprintf(out, " type=0x%02x len=%llu", r->type, (unsigned long long)r->u.extended.len);
        break;
    }
    fputc('\n', out);
    return 0;
}

static const char dump_usage[] =
    "usage: tidemark dump TRACE\n"
    "Prints the trace's header and every record, one per line, in time order:\n"
    "  TIME_NS th=THREAD TYPE field=value ...\n"
    "Heap records by info (3.x full mode) are ALLOC_INFO and FREE_INFO lines with\n"
    "the block's size and stack, no address.\n"
    "Problems with the file (cut off, corrupt) are listed at the end as\n"
    "'# warning: ...' lines. Exit status: 0 read (even if truncated), 2 cannot read\n"
    "or the output cannot be written.\n";

int cmd_dump(int argc, char **argv)
{
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(dump_usage, stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        cli_error("dump: expected one TRACE argument (see tidemark dump --help)");
        return 2;
    }
    char err[512];
    struct tm_reader *r = tm_reader_open(argv[1], err, sizeof err);
    if (!r) {
        cli_error("%s: %s", argv[1], err);
        return 2;
    }
    const struct tmk_file_header *h = tm_reader_header(r);
    printf("# tidemark trace %u.%u pid=%u ppid=%u flags=0x%x max_depth=%u start_realtime_ns=%llu "
           "sample_interval=%llu\n",
           h->version_major, h->version_minor, h->pid, h->ppid, h->flags, h->max_depth,
           (unsigned long long)h->start_realtime_ns, (unsigned long long)h->sample_interval);
    int rc = tm_reader_run(r, dump_record, stdout, err, sizeof err);
    if (rc) cli_error("%s", err);
    const char *const *w;
    size_t n = tm_reader_warnings(r, &w);
    for (size_t i = 0; i < n; i++) printf("# warning: %s\n", w[i]);
    tm_reader_close(r);
    return rc ? 2 : 0; /* main says when standard output failed */
}
