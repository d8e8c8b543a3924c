/* test_uthash_same.c - a program built with the uthash adapter computes
 * exactly what it computes with plain uthash (adds, finds, deletes,
 * iteration, sorting, several tables, select, replace, clear), whether or
 * not a recorder is listening; and the adapter's recorder saw every table. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "fake_recorder.h"
#include "workload_log.h"

int main(void)
{
    struct wl_log plain = {0}, adapted = {0};
    fake_reset();
    workload_plain(&plain);
    CHECK(fake_nevents == 0, "plain uthash announced %zu events", fake_nevents);
    workload_adapted(&adapted);
    CHECK(plain.len != 0 && plain.len == adapted.len &&
              memcmp(plain.text, adapted.text, plain.len) == 0,
          "plain uthash:\n%s\nwith the adapter:\n%s", plain.text, adapted.text);
    /* The adapted build announced every table it made:
     * users, by_name, evens, users again after it emptied. */
    size_t news = 0, ends = 0;
    for (size_t i = 0; i < fake_nevents; i++) {
        news += fake_events[i].type == EV_NEW;
        ends += fake_events[i].type == EV_END;
    }
    CHECK(news == 4 && ends == 4, "tables created and ended: %zu and %zu, want 4 and 4", news,
          ends);
    if (check_status()) return 1;
    fputs(plain.text, stdout);
    printf("uthash with and without the adapter: identical\n");
    return 0;
}
