/* fake_recorder.h - a stand-in for the tidemark shim in tests: the test
 * executable exports its own `tidemark_annotate_api` (linked with
 * ENABLE_EXPORTS), which annotate.h finds with dlsym, and every annotation
 * lands in an in-memory event log that the test asserts on. */
#ifndef TESTS_EXAMPLES_FAKE_RECORDER_H
#define TESTS_EXAMPLES_FAKE_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "tidemark/annotate.h"

enum fake_event_type { EV_NEW, EV_COUNT, EV_ARRAY, EV_END };

struct fake_event {
    enum fake_event_type type;
    const void *table;
    struct tmk_table_info info; /* EV_NEW; label points into `label` */
    char label[32];
    const void *count;          /* EV_COUNT */
    unsigned width;
    const void *array;          /* EV_ARRAY */
    size_t bytes, buckets;
    unsigned reason;
    uint64_t count_at_end;      /* EV_END: the registered count, read then */
};

#define FAKE_MAX_EVENTS 4096

extern struct fake_event fake_events[FAKE_MAX_EVENTS];
extern size_t fake_nevents;

/* Forgets every event and registered count. */
void fake_reset(void);
/* The live count registered for table, read now; UINT64_MAX if none. */
uint64_t fake_count_of(const void *table);


#endif
