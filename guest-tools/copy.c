// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
/*
 * famfs-guest cp and creat. famfs files are sized once: the first
 * ftruncate() of a new file (made with O_CREAT) creates it on the device
 * with that size, fully allocated; later size changes fail with EPERM and
 * files can never be removed. So every file is created with its final
 * size before a byte is written, and O_EXCL keeps an existing file (which
 * cannot be replaced) from being written over.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "famfs_guest.h"
#include "famfs_pattern.h"

#define COPY_BUF (1 << 20)

struct cp_opts {
	int recursive;
	int verbose;
	int mode;		/* files; -1: the source's permission bits */
};

static int parse_mode(const char *s, int *mode)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || end == s || *end || v > 07777)
		return -1;
	*mode = (int)v;
	return 0;
}

/* Writes all of buf at off; 0, or -1 with errno set. */
static int write_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/*
 * Creates dst with size bytes: open(O_CREAT | O_EXCL) then ftruncate(),
 * which is where the file comes into being on the device. Returns the
 * descriptor or -1 (message printed).
 */
static int create_sized(const char *dst, uint64_t size, int mode)
{
	int fd;

	if (!size) {
		fprintf(stderr, "famfs-guest: %s: famfs has no empty files (size 0)\n", dst);
		return -1;
	}
	fd = open(dst, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			fprintf(stderr, "famfs-guest: %s: exists (famfs files cannot be replaced)\n",
				dst);
		else
			fg_fail(dst);
		return -1;
	}
	if (ftruncate(fd, (off_t)size)) {
		fg_fail(dst);
		close(fd);
		return -1;
	}
	return fd;
}

/* Closes fd after making the data durable; 0 or 1 (message printed). */
static int finish(int fd, const char *dst)
{
	/*
	 * write(2) on famfs already writes back and fences; fsync() costs
	 * nothing there and makes the copy durable on any file system.
	 */
	if (fsync(fd)) {
		fg_fail(dst);
		close(fd);
		return 1;
	}
	if (close(fd))
		return fg_fail(dst);
	return 0;
}

static int copy_file(const char *src, const char *dst, const struct cp_opts *o)
{
	static char buf[COPY_BUF];
	struct stat st;
	uint64_t done = 0;
	int in, out;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st))
		return fg_fail(src);
	out = create_sized(dst, st.st_size, o->mode >= 0 ? o->mode : (int)(st.st_mode & 07777));
	if (out < 0) {
		close(in);
		return 1;
	}
	while (done < (uint64_t)st.st_size) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write_all(out, buf, n, done)) {
			if (n == 0)
				errno = ENODATA;
			fg_fail(n <= 0 ? src : dst);
			fprintf(stderr, "famfs-guest: %s: created, but only %llu of %llu bytes copied (famfs cannot remove it)\n",
				dst, (unsigned long long)done, (unsigned long long)st.st_size);
			close(in);
			close(out);
			return 1;
		}
		done += n;
	}
	close(in);
	if (finish(out, dst))
		return 1;
	if (o->verbose)
		printf("%s -> %s (%llu bytes)\n", src, dst, (unsigned long long)done);
	return 0;
}

static int copy_any(const char *src, const char *dst, const struct cp_opts *o);

/* Copies the entries of directory src into directory dst (made if missing). */
static int copy_tree(const char *src, const char *dst, const struct cp_opts *o,
		     mode_t mode)
{
	char s[PATH_MAX], d[PATH_MAX];
	struct dirent *e;
	struct stat st;
	int rc = 0;
	DIR *dir;

	/* -m is for files; a directory keeps its source's mode. */
	if (mkdir(dst, mode & 07777)) {
		if (errno != EEXIST || stat(dst, &st) || !S_ISDIR(st.st_mode))
			return fg_fail(dst);
	}
	dir = opendir(src);
	if (!dir)
		return fg_fail(src);
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(s, sizeof(s), "%s/%s", src, e->d_name) >= (int)sizeof(s) ||
		    snprintf(d, sizeof(d), "%s/%s", dst, e->d_name) >= (int)sizeof(d)) {
			errno = ENAMETOOLONG;
			rc |= fg_fail(s);
			continue;
		}
		rc |= copy_any(s, d, o);
	}
	closedir(dir);
	return rc;
}

static int copy_any(const char *src, const char *dst, const struct cp_opts *o)
{
	struct stat st;

	if (stat(src, &st))
		return fg_fail(src);
	if (S_ISREG(st.st_mode))
		return copy_file(src, dst, o);
	if (S_ISDIR(st.st_mode)) {
		if (o->recursive)
			return copy_tree(src, dst, o, st.st_mode);
		fprintf(stderr, "famfs-guest: %s: is a directory (use -r)\n", src);
		return 1;
	}
	fprintf(stderr, "famfs-guest: %s: skipped: famfs holds only files and directories\n",
		src);
	return 1;
}

int fg_cmd_cp(int argc, char **argv)
{
	struct cp_opts o = { .mode = -1 };
	const char *dest;
	struct stat st;
	int c, i, rc = 0, dest_is_dir;

	while ((c = getopt(argc, argv, "rRvm:")) != -1) {
		switch (c) {
		case 'r': case 'R':
			o.recursive = 1;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'm':
			if (parse_mode(optarg, &o.mode))
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind < 2)
		goto usage;
	dest = argv[argc - 1];
	dest_is_dir = !stat(dest, &st) && S_ISDIR(st.st_mode);
	if (!dest_is_dir && argc - optind > 2) {
		fprintf(stderr, "famfs-guest: %s: not a directory\n", dest);
		return 1;
	}
	for (i = optind; i < argc - 1; i++) {
		char path[PATH_MAX], copy[PATH_MAX];
		const char *to = dest;

		if (dest_is_dir) {
			/* basename() may modify its argument. */
			snprintf(copy, sizeof(copy), "%s", argv[i]);
			if (snprintf(path, sizeof(path), "%s%s%s", dest,
				     dest[strlen(dest) - 1] == '/' ? "" : "/",
				     basename(copy)) >= (int)sizeof(path)) {
				errno = ENAMETOOLONG;
				rc |= fg_fail(argv[i]);
				continue;
			}
			to = path;
		}
		rc |= copy_any(argv[i], to, &o);
	}
	return rc;
usage:
	fprintf(stderr, "usage: famfs-guest cp [-r] [-v] [-m MODE] SRC... DEST\n");
	return 2;
}

int fg_cmd_creat(int argc, char **argv)
{
	static uint8_t buf[COPY_BUF];
	uint64_t size = 0, seed = 0, off;
	struct pattern p;
	int c, fd, mode = 0644, have_size = 0;

	while ((c = getopt(argc, argv, "s:S:m:")) != -1) {
		switch (c) {
		case 's':
			if (fg_parse_size(optarg, &size))
				goto usage;
			have_size = 1;
			break;
		case 'S':
			if (fg_parse_size(optarg, &seed) || pattern_init(&p, seed)) {
				fprintf(stderr, "famfs-guest: seed %s: famfs seeds are 1..2^32-1\n",
					optarg);
				return 2;
			}
			break;
		case 'm':
			if (parse_mode(optarg, &mode))
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (!have_size || argc - optind != 1)
		goto usage;
	fd = create_sized(argv[optind], size, mode);
	if (fd < 0)
		return 1;
	for (off = 0; seed && off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

		pattern_fill(&p, buf, n);
		if (write_all(fd, buf, n, off)) {
			fg_fail(argv[optind]);
			close(fd);
			return 1;
		}
	}
	return finish(fd, argv[optind]);
usage:
	fprintf(stderr, "usage: famfs-guest creat -s SIZE [-S SEED] [-m MODE] FILE\n");
	return 2;
}
