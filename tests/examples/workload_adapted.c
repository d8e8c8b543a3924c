/* workload_adapted.c - the same workload with the tidemark uthash adapter. */
#include "tidemark/uthash.h"
#define WORKLOAD_FN workload_adapted
#include "uthash_workload.h"
