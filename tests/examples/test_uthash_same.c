/* test_uthash_same.c - a program built with the uthash adapter computes
 * exactly what it computes with plain uthash (adds, finds, deletes,
 * iteration, sorting, several tables, select, replace, clear), whether or
 * not a recorder is listening; and the adapter's recorder saw every table. */
#include <stdio.h>
#include <string.h>

#include "fake_recorder.h"
#include "workload_log.h"

int main(void)
{
    struct wl_log plain = {0}, adapted = {0};
    fake_reset();
    workload_plain(&plain);
    if (fake_nevents != 0) {
        fprintf(stderr, "plain uthash announced %zu events\n", fake_nevents);
        return 1;
    }
    workload_adapted(&adapted);

    if (plain.len == 0 || plain.len != adapted.len || memcmp(plain.text, adapted.text, plain.len)) {
        fprintf(stderr, "plain uthash:\n%s\nwith the adapter:\n%s\n", plain.text, adapted.text);
        return 1;
    }
    /* The adapted build announced every table it made:
     * users, by_name, evens, users again after it emptied. */
    size_t news = 0, ends = 0;
    for (size_t i = 0; i < fake_nevents; i++) {
        news += fake_events[i].type == EV_NEW;
        ends += fake_events[i].type == EV_END;
    }
    if (news != 4 || ends != 4) {
        fprintf(stderr, "expected 4 tables created and ended, saw %zu and %zu\n", news, ends);
        return 1;
    }
    fputs(plain.text, stdout);
    printf("uthash with and without the adapter: identical\n");
    return 0;
}
