/* tests/e2e/install_prog.c - a program built against an installed tidemark
 * (pkg-config --cflags tidemark, or find_package(tidemark)): one generic
 * table announced through tidemark/annotate.h, whose 2 MiB array stays
 * allocated after its entries are gone (the table lives until exit, when
 * the shim reads its count last). Prints "ok". */
#include <stdio.h>
#include <stdlib.h>
#include <tidemark/annotate.h>

struct table {
    void *array;
    unsigned live;
};

static struct table t;

int main(void)
{
    t.array = malloc(2 << 20);
    t.live = 4096;
    struct tmk_table_info info = {TMK_KIND_GENERIC, 0, 8, 8, 16, 0, 0, "installed"};
    tmk_table_new(&t, &info);
    tmk_table_count(&t, &t.live, sizeof t.live);
    tmk_table_array(&t, t.array, 2 << 20, 131072, TMK_ARRAY_INITIAL);
    t.live = 0; /* every entry deleted, the array kept */
    tmk_table_count(&t, &t.live, sizeof t.live);
    puts(t.array ? "ok" : "no memory");
    return 0;
}
