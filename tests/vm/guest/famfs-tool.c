// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
/*
 * famfs-tool: the guest side of the real-guest tests. A static program
 * (built on the host with gcc -static) with one subcommand per check:
 *
 *   verify FILE SEED read|mmap     file holds famfs's seeded pattern
 *   fill FILE SEED                 write the pattern through a shared mmap
 *   touch FILE                     read every byte by mmap; print a checksum
 *                                  and the mapping's smaps entry
 *   write-at FILE OFFSET STRING    write STRING through a shared mmap
 *   read-at FILE OFFSET LEN        print LEN bytes read through mmap
 *   produce FILE COUNT             ring producer (see ring_* below)
 *   consume FILE COUNT             ring consumer; checks every message
 *   bench FILE                     mmap read bandwidth of FILE vs the same
 *                                  size of anonymous memory
 *   try-write FILE                 attempt write(2) and a shared writable
 *                                  mmap; print the errno of each
 *   wait-at FILE OFFSET STRING SECS  poll a shared mapping of FILE until the
 *                                  bytes at OFFSET are STRING (SECS 0: look
 *                                  once); exit 1 on timeout
 *   watch FILE OFFSET STRING RDYOFF RDY SECS
 *                                  map FILE once, write RDY at RDYOFF through
 *                                  the mapping, then poll that same mapping
 *                                  until OFFSET holds STRING
 *   bar-read RES OFFSET LEN        map a PCI resource file (a BAR) read-only;
 *                                  print a summary of LEN bytes at OFFSET
 *   bar-write RES OFFSET STRING    write STRING into a BAR through a shared
 *                                  writable mapping of its resource file
 *   bar-fill RES OFFSET LEN BYTE   fill LEN bytes of a BAR with BYTE
 *   walk DIR list|stat|mmap        every entry of the tree under DIR:
 *                                  list it (readdir), also stat(2) it, or
 *                                  also open, mmap and read each regular
 *                                  file; print the counts and seconds
 *   touch-all DIR                  for every regular file of DIR: open, map,
 *                                  read its first byte, unmap, close; print
 *                                  the median and the slowest of those
 *   hold-all DIR                   open, map and touch every regular file of
 *                                  DIR, keeping them all open, until one
 *                                  fails; print how many were held and the
 *                                  errno that stopped it
 *   bar-scan RES BASE LEN SPEC     sample every 4 KiB page of the LEN
 *                                  bytes at BASE of RES (8 loads a page),
 *                                  offsets from BASE: a page is data
 *                                  unless every byte read is 0x00 or 0xff.
 *                                  SPEC lists the BAR ranges allowed to hold
 *                                  data, "[+]START:LEN,...": a page of data
 *                                  outside them fails, and so does a "+"
 *                                  range whose first page is not data
 *
 * Exit status 0 on success, 1 on a failed check, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "famfs_pattern.h"

static int fail(const char *what)
{
	fprintf(stderr, "famfs-tool: %s: %s\n", what, strerror(errno));
	return 1;
}

static void *map_file(const char *path, int prot, size_t *len, int *fdp)
{
	struct stat st;
	void *m;
	int fd = open(path, (prot & PROT_WRITE) ? O_RDWR : O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	*len = st.st_size;
	m = mmap(NULL, *len, prot, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return m;
}

static int cmd_verify(const char *path, uint64_t seed, const char *how)
{
	struct pattern p;
	static uint8_t want[1 << 20], got[1 << 20];
	size_t len, off = 0;
	uint8_t *m = NULL;
	int fd = -1;

	if (pattern_init(&p, seed))
		return 2;
	if (!strcmp(how, "mmap")) {
		m = map_file(path, PROT_READ, &len, NULL);
		if (!m)
			return fail(path);
	} else {
		struct stat st;

		fd = open(path, O_RDONLY);
		if (fd < 0 || fstat(fd, &st) < 0)
			return fail(path);
		len = st.st_size;
	}
	while (off < len) {
		size_t n = len - off < sizeof(want) ? len - off : sizeof(want);
		const uint8_t *have = m ? m + off : got;

		if (!m) {
			size_t done = 0;

			while (done < n) {
				ssize_t r = pread(fd, got + done, n - done, off + done);

				if (r <= 0)
					return fail("read");
				done += r;
			}
		}
		pattern_fill(&p, want, n);
		if (memcmp(have, want, n)) {
			size_t i = 0;

			while (have[i] == want[i])
				i++;
			printf("verify %s: MISMATCH at offset %zu\n", path, off + i);
			return 1;
		}
		off += n;
	}
	printf("verify %s: %zu bytes match seed %llu by %s\n", path, len,
	       (unsigned long long)seed, how);
	return 0;
}

static int cmd_fill(const char *path, uint64_t seed)
{
	struct pattern p;
	size_t len;
	uint8_t *m = map_file(path, PROT_READ | PROT_WRITE, &len, NULL);

	if (!m)
		return fail(path);
	if (pattern_init(&p, seed))
		return 2;
	pattern_fill(&p, m, len);
	if (msync(m, len, MS_SYNC))
		return fail("msync");
	printf("fill %s: %zu bytes with seed %llu by mmap\n", path, len,
	       (unsigned long long)seed);
	return 0;
}

/* Prints the smaps entry of the mapping that contains addr. */
static void print_smaps(const void *addr)
{
	char line[512];
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		/* Only a mapping's first line starts with "lo-hi ". */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		if (in)
			printf("smaps: %s", line);
	}
	fclose(f);
}

static int cmd_touch(const char *path)
{
	size_t len, i;
	uint64_t sum = 0;
	const uint64_t *w;
	const uint8_t *m = map_file(path, PROT_READ, &len, NULL);

	if (!m)
		return fail(path);
	w = (const uint64_t *)m;
	for (i = 0; i < len / 8; i++)
		sum += w[i] * (i | 1);
	for (i = len & ~7UL; i < len; i++)
		sum += m[i];
	printf("touch %s: %zu bytes checksum %016llx\n", path, len,
	       (unsigned long long)sum);
	print_smaps(m);
	return 0;
}

static int cmd_write_at(const char *path, size_t off, const char *s)
{
	size_t len;
	uint8_t *m = map_file(path, PROT_READ | PROT_WRITE, &len, NULL);

	if (!m)
		return fail(path);
	if (off + strlen(s) > len)
		return 2;
	memcpy(m + off, s, strlen(s));
	if (msync(m, len, MS_SYNC))
		return fail("msync");
	return 0;
}

static int cmd_read_at(const char *path, size_t off, size_t n)
{
	size_t len;
	const uint8_t *m = map_file(path, PROT_READ, &len, NULL);

	if (!m)
		return fail(path);
	if (off + n > len)
		return 2;
	fwrite(m + off, 1, n, stdout);
	putchar('\n');
	return 0;
}

/*
 * A single-producer single-consumer ring in a shared file. Header: head
 * (next slot to write) and tail (next slot to read) on separate cache
 * lines; slots of 64 bytes: sequence number, length, checksum, payload.
 * The producer writes a slot, then publishes head with a release store;
 * the consumer reads head with an acquire load, checks the slot, then
 * publishes tail. On one host the memory is coherent, so these barriers
 * are all that is needed.
 */
#define RING_SLOTS 1024
struct ring_slot {
	uint64_t seq;
	uint32_t len;
	uint32_t sum;
	uint8_t payload[48];
};

struct ring {
	uint64_t head;
	uint8_t pad0[56];
	uint64_t tail;
	uint8_t pad1[56];
	struct ring_slot slot[RING_SLOTS];
};

static uint32_t payload_sum(const uint8_t *p, uint32_t len)
{
	uint32_t s = 2166136261u;

	while (len--)
		s = (s ^ *p++) * 16777619u;
	return s;
}

static struct ring *ring_map(const char *path)
{
	size_t len;
	struct ring *r = map_file(path, PROT_READ | PROT_WRITE, &len, NULL);

	if (r && len < sizeof(*r)) {
		errno = EFBIG;
		return NULL;
	}
	return r;
}

static int cmd_produce(const char *path, uint64_t count)
{
	struct ring *r = ring_map(path);
	uint64_t i;

	if (!r)
		return fail(path);
	for (i = 0; i < count; i++) {
		struct ring_slot *s = &r->slot[i % RING_SLOTS];
		uint32_t j;

		while (i - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >= RING_SLOTS)
			usleep(50);
		s->seq = i;
		s->len = 8 + (uint32_t)(i % 40);
		for (j = 0; j < s->len; j++)
			s->payload[j] = (uint8_t)(i * 31 + j);
		s->sum = payload_sum(s->payload, s->len);
		__atomic_store_n(&r->head, i + 1, __ATOMIC_RELEASE);
	}
	printf("produce: %llu messages\n", (unsigned long long)count);
	return 0;
}

static int cmd_consume(const char *path, uint64_t count)
{
	struct ring *r = ring_map(path);
	uint64_t i, bad = 0;
	time_t start = time(NULL);

	if (!r)
		return fail(path);
	for (i = 0; i < count; i++) {
		const struct ring_slot *s = &r->slot[i % RING_SLOTS];

		while (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) <= i) {
			if (time(NULL) - start > 120) {
				printf("consume: TIMEOUT after %llu messages\n",
				       (unsigned long long)i);
				return 1;
			}
			usleep(50);
		}
		if (s->seq != i || s->len > sizeof(s->payload) ||
		    s->sum != payload_sum(s->payload, s->len))
			bad++;
		__atomic_store_n(&r->tail, i + 1, __ATOMIC_RELEASE);
	}
	printf("consume: %llu messages, %llu bad\n", (unsigned long long)count,
	       (unsigned long long)bad);
	return bad ? 1 : 0;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static uint64_t sum_words(const volatile uint64_t *w, size_t n)
{
	uint64_t s = 0;
	size_t i;

	for (i = 0; i < n; i += 8)
		s += w[i] + w[i + 1] + w[i + 2] + w[i + 3] + w[i + 4] + w[i + 5] +
		     w[i + 6] + w[i + 7];
	return s;
}

static int cmd_bench(const char *path)
{
	size_t len;
	double t0, tf, ta;
	uint64_t sf, sa;
	uint64_t *anon;
	const uint64_t *m = map_file(path, PROT_READ, &len, NULL);

	if (!m)
		return fail(path);
	anon = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		return fail("anonymous mmap");
	madvise(anon, len, MADV_HUGEPAGE);
	memset(anon, 1, len);	/* fault it in: time reads only, like the file */
	t0 = now();
	sf = sum_words(m, len / 8);
	tf = now() - t0;
	t0 = now();
	sa = sum_words(anon, len / 8);
	ta = now() - t0;
	printf("bench: file %.1f MB/s (%.3f s), anonymous %.1f MB/s (%.3f s), ratio %.1f%% [%llx %llx]\n",
	       len / tf / 1e6, tf, len / ta / 1e6, ta, 100.0 * ta / tf,
	       (unsigned long long)sf, (unsigned long long)sa);
	return 0;
}

static int cmd_try_write(const char *path)
{
	int fd = open(path, O_RDWR);
	void *m;

	printf("try-write: open O_RDWR: %s\n", fd < 0 ? strerror(errno) : "ok");
	if (fd >= 0) {
		ssize_t r = write(fd, "x", 1);

		printf("try-write: write: %s\n", r < 0 ? strerror(errno) : "ok");
		m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		printf("try-write: shared writable mmap: %s\n",
		       m == MAP_FAILED ? strerror(errno) : "ok");
		close(fd);
	}
	/* The paths that need no writable descriptor. */
	fd = open(path, O_RDONLY);
	printf("try-write: open O_RDONLY: %s\n", fd < 0 ? strerror(errno) : "ok");
	if (fd >= 0) {
		m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		printf("try-write: shared writable mmap of an O_RDONLY fd: %s\n",
		       m == MAP_FAILED ? strerror(errno) : "ok");
		m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (m != MAP_FAILED) {
			int r = mprotect(m, 4096, PROT_READ | PROT_WRITE);

			printf("try-write: mprotect of a shared read-only mapping to PROT_WRITE: %s\n",
			       r ? strerror(errno) : "ok");
		}
		close(fd);
	}
	return 0;
}

static double now(void);

/* Do the bytes at m equal s? Volatile reads: another VM writes them. */
static int bytes_are(const volatile uint8_t *m, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (m[i] != (uint8_t)s[i])
			return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return 1;
}

/* Polls m + off until it holds s, for at most secs; returns the wait in s or -1. */
static double poll_for(const uint8_t *m, size_t off, const char *s, double secs)
{
	double t0 = now();

	for (;;) {
		if (bytes_are(m + off, s, strlen(s)))
			return now() - t0;
		if (now() - t0 >= secs)
			return -1;
		usleep(1000);
	}
}

static int cmd_wait_at(const char *path, size_t off, const char *s, double secs)
{
	size_t len;
	double t;
	const uint8_t *m = map_file(path, PROT_READ, &len, NULL);

	if (!m)
		return fail(path);
	if (off + strlen(s) > len)
		return 2;
	t = poll_for(m, off, s, secs);
	if (t < 0) {
		if (secs > 0)
			printf("wait-at %s: \"%s\" not at %zu after %.0f s\n", path, s, off, secs);
		return 1;
	}
	if (secs > 0)
		printf("wait-at %s: \"%s\" at %zu after %.3f s\n", path, s, off, t);
	return 0;
}

static int cmd_watch(const char *path, size_t off, const char *s, size_t rdy_off,
		     const char *rdy, double secs)
{
	size_t len, n = strlen(s);
	double t;
	char before[64];
	uint8_t *m = map_file(path, PROT_READ | PROT_WRITE, &len, NULL);

	if (!m)
		return fail(path);
	if (off + n > len || rdy_off + strlen(rdy) > len || n >= sizeof(before))
		return 2;
	/* Fault both pages in before telling the writer to go. */
	memcpy(before, m + off, n);
	before[n] = 0;
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)before[i] < 0x20 || (uint8_t)before[i] > 0x7e)
			before[i] = '.';
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(m + rdy_off, rdy, strlen(rdy));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	printf("watch %s: mapped at %p; %zu bytes at %zu were \"%s\"; wrote \"%s\" at %zu\n",
	       path, (void *)m, n, off, before, rdy, rdy_off);
	fflush(stdout);
	t = poll_for(m, off, s, secs);
	if (t < 0) {
		printf("watch %s: \"%s\" did not appear at %zu in %.0f s\n", path, s, off, secs);
		return 1;
	}
	printf("watch %s: \"%s\" appeared at %zu after %.3f s in the same mapping\n",
	       path, s, off, t);
	return 0;
}

/* Maps [off, off + len) of a PCI resource file (a BAR). */
static uint8_t *bar_map(const char *res, size_t off, size_t len, int prot)
{
	size_t base = off & ~4095UL;
	uint8_t *m;
	int fd = open(res, (prot & PROT_WRITE) ? O_RDWR : O_RDONLY);

	if (fd < 0)
		return NULL;
	m = mmap(NULL, len + off - base, prot, MAP_SHARED, fd, base);
	close(fd);
	if (m == MAP_FAILED)
		return NULL;
	return m + (off - base);
}

static int cmd_bar_read(const char *res, size_t off, size_t len)
{
	const volatile uint8_t *m = bar_map(res, off, len, PROT_READ);
	size_t i, zero = 0, ff = 0;
	uint32_t h = 2166136261u;

	if (!m)
		return fail(res);
	for (i = 0; i < len;) {
		/* 8-byte loads where aligned: every load may be an MMIO exit */
		uint8_t b[8];
		size_t j, n = 1;

		if (!((uintptr_t)(m + i) & 7) && len - i >= 8) {
			uint64_t v = *(const volatile uint64_t *)(m + i);

			memcpy(b, &v, 8);
			n = 8;
		} else {
			b[0] = m[i];
		}
		for (j = 0; j < n; j++) {
			zero += b[j] == 0;
			ff += b[j] == 0xff;
			h = (h ^ b[j]) * 16777619u;
		}
		i += n;
	}
	printf("bar-read %s: %zu bytes at %#zx: %zu zero, %zu 0xff, fnv %08x, first:",
	       res, len, off, zero, ff, h);
	for (i = 0; i < len && i < 16; i++)
		printf(" %02x", m[i]);
	printf("\n");
	return 0;
}

static int cmd_bar_write(const char *res, size_t off, const char *s)
{
	size_t i, n = strlen(s);
	volatile uint8_t *m = bar_map(res, off, n, PROT_READ | PROT_WRITE);

	if (!m)
		return fail(res);
	for (i = 0; i < n; i++)
		m[i] = (uint8_t)s[i];
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	printf("bar-write %s: wrote \"%s\" at %#zx; reads back \"", res, s, off);
	for (i = 0; i < n; i++)
		putchar(m[i] >= 0x20 && m[i] < 0x7f ? m[i] : '.');
	printf("\"\n");
	return 0;
}

static int cmd_bar_fill(const char *res, size_t off, size_t len, uint8_t byte)
{
	volatile uint64_t *m = (volatile uint64_t *)bar_map(res, off, len, PROT_READ | PROT_WRITE);
	uint64_t v = byte * 0x0101010101010101ULL;
	size_t i;

	if (!m || (off | len) & 7)
		return m ? 2 : fail(res);
	for (i = 0; i < len / 8; i++)
		m[i] = v;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	printf("bar-fill %s: %zu bytes at %#zx with %#x\n", res, len, off, byte);
	return 0;
}

/* What walk has seen: entries listed, files mapped, the bytes' sum. */
struct walk {
	int mode;			/* 0 list, 1 stat, 2 mmap */
	unsigned long entries, files;
	uint64_t sum;
};

static int walk_file(const char *path, off_t size, struct walk *w)
{
	const volatile unsigned char *m;
	int fd = open(path, O_RDONLY);
	off_t i;

	if (fd < 0)
		return fail(path);
	if (size) {
		m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			close(fd);
			return fail(path);
		}
		for (i = 0; i < size; i += 64)
			w->sum += m[i];
		munmap((void *)m, size);
	}
	close(fd);
	w->files++;
	return 0;
}

static int walk_dir(const char *dir, struct walk *w)
{
	char path[4096];
	struct dirent *de;
	struct stat st;
	int rc = 0;
	DIR *d = opendir(dir);

	if (!d)
		return fail(dir);
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			/* End of the listing, or a failed one. */
			if (errno)
				rc = fail(dir);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		w->entries++;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (w->mode == 0) {
			if (de->d_type == DT_DIR && walk_dir(path, w))
				rc = 1;
			if (rc)
				break;
			continue;
		}
		if (lstat(path, &st))
			rc = fail(path);
		else if (S_ISDIR(st.st_mode))
			rc = walk_dir(path, w);
		else if (w->mode == 2 && S_ISREG(st.st_mode))
			rc = walk_file(path, st.st_size, w);
		if (rc)
			break;
	}
	closedir(d);
	return rc;
}

static int cmd_walk(const char *dir, const char *mode)
{
	struct walk w = { 0 };
	double t0;
	int rc;

	if (!strcmp(mode, "list"))
		w.mode = 0;
	else if (!strcmp(mode, "stat"))
		w.mode = 1;
	else if (!strcmp(mode, "mmap"))
		w.mode = 2;
	else
		return 2;
	t0 = now();
	rc = walk_dir(dir, &w);
	printf("walk %s %s: %lu entries, %lu files mapped, sum %llu, %.3f s\n",
	       mode, dir, w.entries, w.files, (unsigned long long)w.sum,
	       now() - t0);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

/* The next regular file of directory D (opened from DIR): its entry, its
 * path in PATH; NULL at the end. */
static struct dirent *next_file(DIR *d, const char *dir, char *path,
				size_t size)
{
	struct dirent *e;

	while ((e = readdir(d)) && e->d_type != DT_REG)
		;
	if (e)
		snprintf(path, size, "%s/%s", dir, e->d_name);
	return e;
}

static int cmd_touch_all(const char *dir)
{
	static uint64_t ns[65536];
	char path[4096];
	size_t n = 0, len;
	DIR *d = opendir(dir);

	if (!d)
		return fail(dir);
	while (n < 65536 && next_file(d, dir, path, sizeof(path))) {
		const volatile uint8_t *m;
		uint64_t t0;

		t0 = now_ns();
		m = map_file(path, PROT_READ, &len, NULL);
		if (!m || !len)
			return fail(path);
		(void)m[0];
		munmap((void *)m, len);
		ns[n++] = now_ns() - t0;
	}
	closedir(d);
	if (!n)
		return 1;
	qsort(ns, n, sizeof(ns[0]), cmp_u64);
	printf("touch-all %s: %zu files, median %llu us, slowest %llu us\n",
	       dir, n, (unsigned long long)ns[n / 2] / 1000,
	       (unsigned long long)ns[n - 1] / 1000);
	return 0;
}

static int cmd_hold_all(const char *dir)
{
	char path[4096];
	struct dirent *e;
	size_t n = 0, len;
	DIR *d = opendir(dir);

	if (!d)
		return fail(dir);
	while ((e = next_file(d, dir, path, sizeof(path)))) {
		const volatile uint8_t *m;

		errno = 0;
		m = map_file(path, PROT_READ, &len, NULL);
		if (!m) {
			printf("hold-all %s: %zu files held, then %s: %s\n",
			       dir, n, e->d_name, strerrorname_np(errno));
			return 0;
		}
		(void)m[0];
		n++;
	}
	closedir(d);
	printf("hold-all %s: %zu files held, all of them\n", dir, n);
	return 0;
}

/* A page of a BAR: data unless every sampled byte is 0x00 or 0xff. */
static int page_is_data(const volatile uint8_t *p)
{
	size_t k, j;

	for (k = 0; k < 4096; k += 512) {
		uint64_t v = *(const volatile uint64_t *)(p + k);

		for (j = 0; j < 8; j++, v >>= 8)
			if ((uint8_t)v != 0 && (uint8_t)v != 0xff)
				return 1;
	}
	return 0;
}

struct scan_range {
	size_t start, len;
	int required;
};

static int cmd_bar_scan(const char *res, size_t base, size_t len,
			const char *spec)
{
	const volatile uint8_t *m = bar_map(res, base, len, PROT_READ);
	struct scan_range r[64];
	size_t nr = 0, i, pg, data = 0, inside = 0, outside = 0;
	size_t run = 0, run_start = 0;
	char *dup = strdup(spec), *tok, *save = NULL;
	int bad = 0;

	if (!m || !dup)
		return fail(res);
	for (tok = strtok_r(dup, ",", &save); tok && nr < 64;
	     tok = strtok_r(NULL, ",", &save)) {
		r[nr].required = *tok == '+';
		r[nr].start = strtoull(tok + r[nr].required, &tok, 0);
		if (*tok != ':')
			return 2;
		r[nr].len = strtoull(tok + 1, NULL, 0);
		nr++;
	}
	free(dup);
	for (pg = 0; pg + 4096 <= len; pg += 4096) {
		int d = page_is_data(m + pg), ok = 0;

		for (i = 0; i < nr; i++)
			ok |= pg >= r[i].start && pg < r[i].start + r[i].len;
		data += d;
		inside += d && ok;
		if (d && !ok) {
			if (!run++)
				run_start = pg;
			outside++;
		}
		if ((!d || ok || pg + 8192 > len) && run) {
			printf("bar-scan: DATA OUTSIDE the allowed ranges: %#zx..%#zx\n",
			       run_start, run_start + run * 4096);
			run = 0;
		}
	}
	for (i = 0; i < nr; i++) {
		if (r[i].required && !page_is_data(m + r[i].start)) {
			printf("bar-scan: no data at required %#zx\n", r[i].start);
			bad = 1;
		}
	}
	printf("bar-scan %s: %zu pages, %zu of data: %zu allowed, %zu outside\n",
	       res, len / 4096, data, inside, outside);
	return bad || outside;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	if (!strcmp(c, "verify") && argc == 5)
		return cmd_verify(argv[2], strtoull(argv[3], NULL, 0), argv[4]);
	if (!strcmp(c, "fill") && argc == 4)
		return cmd_fill(argv[2], strtoull(argv[3], NULL, 0));
	if (!strcmp(c, "touch") && argc == 3)
		return cmd_touch(argv[2]);
	if (!strcmp(c, "write-at") && argc == 5)
		return cmd_write_at(argv[2], strtoull(argv[3], NULL, 0), argv[4]);
	if (!strcmp(c, "read-at") && argc == 5)
		return cmd_read_at(argv[2], strtoull(argv[3], NULL, 0),
				   strtoull(argv[4], NULL, 0));
	if (!strcmp(c, "produce") && argc == 4)
		return cmd_produce(argv[2], strtoull(argv[3], NULL, 0));
	if (!strcmp(c, "consume") && argc == 4)
		return cmd_consume(argv[2], strtoull(argv[3], NULL, 0));
	if (!strcmp(c, "bench") && argc == 3)
		return cmd_bench(argv[2]);
	if (!strcmp(c, "try-write") && argc == 3)
		return cmd_try_write(argv[2]);
	if (!strcmp(c, "wait-at") && argc == 6)
		return cmd_wait_at(argv[2], strtoull(argv[3], NULL, 0), argv[4],
				   strtod(argv[5], NULL));
	if (!strcmp(c, "watch") && argc == 8)
		return cmd_watch(argv[2], strtoull(argv[3], NULL, 0), argv[4],
				 strtoull(argv[5], NULL, 0), argv[6], strtod(argv[7], NULL));
	if (!strcmp(c, "bar-read") && argc == 5)
		return cmd_bar_read(argv[2], strtoull(argv[3], NULL, 0),
				    strtoull(argv[4], NULL, 0));
	if (!strcmp(c, "bar-write") && argc == 5)
		return cmd_bar_write(argv[2], strtoull(argv[3], NULL, 0), argv[4]);
	if (!strcmp(c, "bar-fill") && argc == 6)
		return cmd_bar_fill(argv[2], strtoull(argv[3], NULL, 0),
				    strtoull(argv[4], NULL, 0),
				    (uint8_t)strtoul(argv[5], NULL, 0));
	if (!strcmp(c, "walk") && argc == 4)
		return cmd_walk(argv[2], argv[3]);
	if (!strcmp(c, "touch-all") && argc == 3)
		return cmd_touch_all(argv[2]);
	if (!strcmp(c, "hold-all") && argc == 3)
		return cmd_hold_all(argv[2]);
	if (!strcmp(c, "bar-scan") && argc == 6)
		return cmd_bar_scan(argv[2], strtoull(argv[3], NULL, 0),
				    strtoull(argv[4], NULL, 0), argv[5]);
	fprintf(stderr, "usage: see the comment at the top of famfs-tool.c\n");
	return 2;
}
