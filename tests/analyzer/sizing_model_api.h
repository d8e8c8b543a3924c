/* tests/analyzer/sizing_model_api.h - the one model internal the tests call
 * directly (analyzer/model/sizing_rules.c). */
#include <stdint.h>
uint64_t tm_uthash_expected_buckets(uint64_t n);
