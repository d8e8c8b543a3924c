/* workload_plain.c - the uthash workload with plain <uthash.h>. */
#include <uthash.h>
#define WORKLOAD_FN workload_plain
#include "uthash_workload.h"
