/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/*
 * famfs's seeded test pattern, used by famfs-guest (creat -S) and the guest
 * test programs (tests/vm/guest/): the same byte stream as famfs's
 * `creat -S` / `verify -S` and vhost-famfs's
 * (vhost-famfs/src/pattern.rs): the seed (low 32 bits, never 0) seeds
 * xoroshiro128+ through splitmix64; each step yields the low 32 bits of
 * its output as 4 little-endian bytes.
 */
#ifndef FAMFS_PATTERN_H
#define FAMFS_PATTERN_H

#include <stddef.h>
#include <stdint.h>

struct pattern {
	uint64_t s0, s1;
	uint8_t spare[4];	/* bytes of the last step not handed out yet */
	int nspare;
};

static inline uint64_t pattern_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t pattern_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* 0, or -1 for a seed famfs reserves (low 32 bits zero). */
static inline int pattern_init(struct pattern *p, uint64_t seed)
{
	uint64_t x = (uint32_t)seed;

	if (!x)
		return -1;
	p->s0 = pattern_splitmix64(&x);
	p->s1 = pattern_splitmix64(&x);
	p->nspare = 0;
	return 0;
}

static inline uint32_t pattern_step(struct pattern *p)
{
	uint64_t s0 = p->s0, s1 = p->s1, r = s0 + s1;

	s1 ^= s0;
	p->s0 = pattern_rotl(s0, 55) ^ s1 ^ (s1 << 14);
	p->s1 = pattern_rotl(s1, 36);
	return (uint32_t)r;
}

/* Fills buf with the next len bytes of the stream. */
static inline void pattern_fill(struct pattern *p, uint8_t *buf, size_t len)
{
	size_t i = 0;

	while (i < len && p->nspare)
		buf[i++] = p->spare[4 - p->nspare--];
	for (; i + 4 <= len; i += 4) {
		uint32_t v = pattern_step(p);

		buf[i] = v;
		buf[i + 1] = v >> 8;
		buf[i + 2] = v >> 16;
		buf[i + 3] = v >> 24;
	}
	if (i < len) {
		uint32_t v = pattern_step(p);
		int j;

		for (j = 0; j < 4; j++)
			p->spare[j] = v >> (8 * j);
		p->nspare = 4 - (int)(len - i);
		for (j = 0; i < len; j++)
			buf[i++] = p->spare[j];
	}
}

/* Compares buf with the next len bytes: index of the first difference, or -1. */
static inline long pattern_check(struct pattern *p, const uint8_t *buf, size_t len)
{
	uint8_t want[4096];
	size_t off = 0;

	while (off < len) {
		size_t n = len - off < sizeof(want) ? len - off : sizeof(want);
		size_t i;

		pattern_fill(p, want, n);
		for (i = 0; i < n; i++)
			if (buf[off + i] != want[i])
				return (long)(off + i);
		off += n;
	}
	return -1;
}

#endif /* FAMFS_PATTERN_H */
