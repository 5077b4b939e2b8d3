/* quiz_deal.c - see quiz_deal.h. */
#include "quiz_deal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a over len bytes, continuing from h. */
static uint64_t
s_fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* splitmix64's finaliser: spreads FNV's weak low bits over the whole word. */
static uint64_t
s_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

bool
quiz_deal_applies(const quiz_key_t *key)
{
    return key->per_attempt > 0 && key->in_scope > (size_t)key->per_attempt;
}

int
quiz_deal(quiz_key_t *key, const char *course_id, const char *user_id, long long number)
{
    if (!quiz_deal_applies(key))
        return 0;
    uint64_t *rank = calloc(key->count, sizeof *rank);
    if (rank == NULL)
        return -1;
    /* The seed: the course, the user, the scope and the number, each NUL-terminated so that
     * no two seeds run together into the same bytes. */
    char num[24];
    snprintf(num, sizeof num, "%lld", number);
    uint64_t seed = UINT64_C(0xcbf29ce484222325);
    seed = s_fnv(seed, course_id, strlen(course_id) + 1);
    seed = s_fnv(seed, user_id, strlen(user_id) + 1);
    seed = s_fnv(seed, key->lesson, strlen(key->lesson) + 1);
    seed = s_fnv(seed, num, strlen(num) + 1);
    for (size_t i = 0; i < key->count; i++)
        rank[i] = s_mix(s_fnv(seed, key->questions[i].id, strlen(key->questions[i].id)));
    /* Keep the per_attempt questions of the scope with the lowest ranks (ties: quiz order):
     * first decide each (keep[i]) against the scope as it was, then apply. */
    bool *keep = calloc(key->count, sizeof *keep);
    if (keep == NULL) {
        free(rank);
        return -1;
    }
    for (size_t i = 0; i < key->count; i++) {
        if (!key->questions[i].in_scope)
            continue;
        size_t before = 0;
        for (size_t j = 0; j < key->count; j++)
            before +=
                key->questions[j].in_scope && (rank[j] < rank[i] || (rank[j] == rank[i] && j < i));
        keep[i] = before < (size_t)key->per_attempt;
    }
    key->in_scope = 0;
    for (size_t i = 0; i < key->count; i++) {
        key->questions[i].in_scope = keep[i];
        key->in_scope += keep[i];
    }
    free(keep);
    free(rank);
    return 0;
}
