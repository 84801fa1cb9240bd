/* Unit tests for the content-defined chunker (src/repo/chunker.c): size
 * bounds, determinism, and the property deduplication rests on: an insert
 * changes only the chunks around it, later boundaries stay where they were. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "repo/internal.h"

#define MIN (128u * 1024)
#define AVG (512u * 1024)
#define MAX (2u * 1024 * 1024)

static void random_fill(uint8_t *p, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (uint8_t)(seed >> 56);
    }
}

/* Cuts data into chunks; returns their count and fills ends[] (cumulative). */
static size_t cut_all(const repo_chunker *c, const uint8_t *data, size_t len, size_t *ends)
{
    size_t n = 0, pos = 0;
    while (pos < len) {
        size_t cut = repo_chunker_next(c, data + pos, len - pos, true);
        assert_true(cut > 0);
        pos += cut;
        ends[n++] = pos;
    }
    return n;
}

static void test_sizes_within_bounds(void **state)
{
    (void)state;
    repo_chunker c;
    repo_chunker_init(&c, MIN, AVG, MAX);
    size_t len = 64u * 1024 * 1024;
    uint8_t *data = rd_malloc(len);
    random_fill(data, len, 1);
    size_t *ends = rd_malloc(len / MIN * sizeof *ends + 8 * sizeof *ends);
    size_t n = cut_all(&c, data, len, ends);
    size_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        size_t size = ends[i] - prev;
        assert_true(size <= MAX);
        if (i + 1 < n)
            assert_true(size > MIN);
        prev = ends[i];
    }
    /* The average lands near the target (normalized chunking). */
    double avg = (double)len / (double)n;
    assert_true(avg > AVG * 0.6 && avg < AVG * 1.6);
    free(ends);
    free(data);
}

static void test_needs_more_data_before_max(void **state)
{
    (void)state;
    repo_chunker c;
    repo_chunker_init(&c, MIN, AVG, MAX);
    uint8_t *data = rd_malloc(MAX);
    random_fill(data, MAX, 2);
    assert_int_equal(repo_chunker_next(&c, data, MAX - 1, false), 0);
    assert_int_equal(repo_chunker_next(&c, data, MIN, false), 0);
    assert_int_equal(repo_chunker_next(&c, data, 10, true), 10);
    size_t cut = repo_chunker_next(&c, data, MAX, false);
    assert_true(cut > MIN && cut <= MAX);
    /* The same bytes always cut at the same place. */
    assert_int_equal(repo_chunker_next(&c, data, MAX, true), cut);
    free(data);
}

static void test_zeros_cut_at_max(void **state)
{
    (void)state;
    repo_chunker c;
    repo_chunker_init(&c, MIN, AVG, MAX);
    uint8_t *zeros = calloc(1, 3 * (size_t)MAX);
    size_t cut = repo_chunker_next(&c, zeros, 3 * (size_t)MAX, false);
    /* Runs of zeros give identical chunks, which deduplicate to one. */
    assert_int_equal(repo_chunker_next(&c, zeros + cut, 3 * (size_t)MAX - cut, false), cut);
    free(zeros);
}

static void test_insert_shifts_only_nearby_chunks(void **state)
{
    (void)state;
    repo_chunker c;
    repo_chunker_init(&c, MIN, AVG, MAX);
    size_t len = 32u * 1024 * 1024;
    uint8_t *a = rd_malloc(len + 1), *b = rd_malloc(len + 1);
    random_fill(a, len, 3);
    b[0] = 0x42;                       /* one byte inserted at the front */
    memcpy(b + 1, a, len);
    size_t *ea = rd_malloc(len / MIN * sizeof(size_t) + 64), *eb = rd_malloc(len / MIN * sizeof(size_t) + 64);
    size_t na = cut_all(&c, a, len, ea), nb = cut_all(&c, b, len + 1, eb);
    /* Every boundary but the first reappears shifted by one. */
    size_t shared = 0;
    for (size_t i = 0, j = 0; i < na && j < nb;) {
        if (eb[j] == ea[i] + 1) {
            shared++;
            i++;
            j++;
        } else if (eb[j] < ea[i] + 1) {
            j++;
        } else {
            i++;
        }
    }
    assert_true(shared + 1 >= na);
    free(ea);
    free(eb);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_within_bounds),
        cmocka_unit_test(test_needs_more_data_before_max),
        cmocka_unit_test(test_zeros_cut_at_max),
        cmocka_unit_test(test_insert_shifts_only_nearby_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
