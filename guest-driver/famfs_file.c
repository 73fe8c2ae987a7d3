// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-famfs: regular files.
 *
 * A file's extent map is fetched once per in-core inode (GET_FMAP) and
 * kept: famfs files never change. read(2), write(2) and page faults then
 * resolve file offsets to window offsets from that map, with no request,
 * and go through fs-dax, which maps 2 MiB pages where file and device
 * are 2 MiB aligned.
 *
 * famfs files have one size, fixed when they are created, and are fully
 * allocated. A file made with O_CREAT exists only in this guest until
 * its first ftruncate() or fallocate() to a non-zero size, which creates
 * it on the device with that size. After that every size change fails
 * with EPERM, and writes stop at the end of the file (ENOSPC at EOF).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dax.h>
#include <linux/dcache.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/huge_mm.h>
#include <linux/iomap.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/pagemap.h>
#include <linux/pfn_t.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uio.h>

#include "famfs.h"

/* ---- extent maps ------------------------------------------------------- */

/**
 * famfs_fmap_free - free an inode's extent map
 * @fi: the inode, being evicted
 */
void famfs_fmap_free(struct famfs_inode *fi)
{
	kvfree(fi->fmap);
	fi->fmap = NULL;
}

/* Where a map came from, for messages: a GET_FMAP reply or inline. */
enum famfs_fmap_src {
	FAMFS_FMAP_GET,
	FAMFS_FMAP_INLINE,
};

static int famfs_bad_fmap_from(struct famfs_vdev *fdev,
			       enum famfs_fmap_src src, u64 nodeid,
			       const char *why, u64 val)
{
	famfs_stat_inc(fdev, FAMFS_STAT_REQ_ERRORS);
	dev_err_ratelimited(fdev->dev,
			    "%s: invalid %s for node %llu: %s (%llu)\n",
			    fdev->tag,
			    src == FAMFS_FMAP_INLINE ? "inline map" :
			    "GET_FMAP reply", nodeid, why, val);
	return -EIO;
}

static int famfs_bad_fmap(struct famfs_vdev *fdev, u64 nodeid,
			  const char *why, u64 val)
{
	return famfs_bad_fmap_from(fdev, FAMFS_FMAP_GET, nodeid, why, val);
}

static int famfs_extent_cmp(const void *a, const void *b)
{
	const struct famfs_extent *x = a, *y = b;

	if (x->dev_off != y->dev_off)
		return x->dev_off < y->dev_off ? -1 : 1;
	return 0;
}

/* True if two extents of @fmap share device bytes: sorts a copy. */
static int famfs_fmap_overlaps(const struct famfs_fmap *fmap, bool *overlap)
{
	struct famfs_extent *sorted;
	u32 i;

	*overlap = false;
	if (fmap->nextents < 2)
		return 0;
	sorted = kvmemdup(fmap->ext, array_size(fmap->nextents,
						sizeof(*sorted)), GFP_KERNEL);
	if (!sorted)
		return -ENOMEM;
	sort(sorted, fmap->nextents, sizeof(*sorted), famfs_extent_cmp, NULL);
	for (i = 1; i < fmap->nextents; i++) {
		/* Extents lie inside the window: the sum cannot overflow. */
		if (sorted[i - 1].dev_off + sorted[i - 1].len >
		    sorted[i].dev_off) {
			*overlap = true;
			break;
		}
	}
	kvfree(sorted);
	return 0;
}

/*
 * File bytes an interleaved map covers: every strip holds @rows chunks,
 * as many as the shortest strip can. 0 if that does not fit in 64 bits.
 */
static u64 famfs_interleave_span(const struct famfs_fmap *fmap)
{
	u64 shortest = U64_MAX, rows, span;
	u32 i;

	for (i = 0; i < fmap->nextents; i++)
		shortest = min(shortest, fmap->ext[i].len);
	rows = div64_u64(shortest, fmap->chunk_size);
	if (check_mul_overflow(rows * fmap->chunk_size, (u64)fmap->nextents,
			       &span))
		return 0;
	return span;
}

/*
 * Section 7.10: check every extent before anything maps it. The one check
 * of every map of node @nodeid, whose size attribute is @isize, whether a
 * GET_FMAP reply or inline in a LOOKUP or READDIRPLUS reply (@src); an
 * inline map has at most VIRTIO_FAMFS_ENTRY_FMAP_MAX extents and fills
 * exactly its @len bytes. Extents must lie in the first @wlen bytes: the
 * mount's window, or the device for a map not yet tied to a mount.
 */
static int famfs_fmap_parse(struct famfs_vdev *fdev, u64 wlen, u64 nodeid,
			    u64 isize, enum famfs_fmap_src src,
			    const void *buf, size_t len,
			    struct famfs_fmap **fmapp)
{
	const struct virtio_famfs_fmap_out *out = buf;
	const struct virtio_famfs_extent *ext = (const void *)(out + 1);
	u64 au = fdev->alloc_unit;
	u32 max = min_t(u32, fdev->max_extents, FAMFS_MAX_EXTENTS);
	u64 size, total = 0, chunk = 0;
	size_t head = sizeof(*out);
	struct famfs_fmap *fmap;
	u32 n, kind, i;
	const char *why;
	bool overlap;
	int err;

	if (len < sizeof(*out))
		return famfs_bad_fmap_from(fdev, src, nodeid, "short map", len);
	size = le64_to_cpu(out->file_size);
	n = le32_to_cpu(out->nextents);
	kind = le32_to_cpu(out->kind);
	if (src == FAMFS_FMAP_INLINE)
		max = VIRTIO_FAMFS_ENTRY_FMAP_MAX;
	if (kind == VIRTIO_FAMFS_FMAP_INTERLEAVED && fdev->interleave) {
		const struct virtio_famfs_fmap_interleave *ie = (void *)ext;

		head += sizeof(*ie);
		if (len < head)
			return famfs_bad_fmap_from(fdev, src, nodeid,
						   "short interleave", len);
		chunk = le64_to_cpu(ie->chunk_size);
		ext = (const void *)(ie + 1);
		if (!chunk || !IS_ALIGNED(chunk, au))
			return famfs_bad_fmap_from(fdev, src, nodeid,
						   "bad chunk size", chunk);
		if (!n)
			return famfs_bad_fmap_from(fdev, src, nodeid,
						   "no strips", 0);
	} else if (kind != VIRTIO_FAMFS_FMAP_SIMPLE) {
		return famfs_bad_fmap_from(fdev, src, nodeid,
					   "unknown map kind", kind);
	}
	/* Count before allocating: the device chooses n. */
	if (n > max)
		return famfs_bad_fmap_from(fdev, src, nodeid,
					   "too many extents", n);
	if ((len - head) / sizeof(*ext) < n)
		return famfs_bad_fmap_from(fdev, src, nodeid,
					   "extents do not fit", len);
	if (src == FAMFS_FMAP_INLINE && len != head + n * sizeof(*ext))
		return famfs_bad_fmap_from(fdev, src, nodeid,
					   "map length differs from its extents",
					   len);
	if (!n && size)
		return famfs_bad_fmap_from(fdev, src, nodeid,
					   "no extents", size);
	if (size != isize)
		return famfs_bad_fmap_from(fdev, src, nodeid,
					   "size differs from attr", size);

	fmap = kvmalloc(struct_size(fmap, ext, n), GFP_KERNEL);
	if (!fmap)
		return -ENOMEM;
	fmap->nextents = n;
	fmap->chunk_size = chunk;
	for (i = 0; i < n; i++) {
		u64 off = le64_to_cpu(ext[i].offset);
		u64 elen = le64_to_cpu(ext[i].len);

		why = "misaligned extent";
		if (!elen || !IS_ALIGNED(off, au) || !IS_ALIGNED(elen, au))
			goto bad;
		why = "extent outside the device";
		if (off < fdev->meta_size || off >= wlen || elen > wlen - off)
			goto bad;
		why = "strip shorter than a chunk";
		if (elen < chunk)
			goto bad;
		fmap->ext[i].file_off = chunk ? 0 : total;
		fmap->ext[i].dev_off = off;
		fmap->ext[i].len = elen;
		why = "extents overflow";
		if (check_add_overflow(total, elen, &total))
			goto bad;
	}
	if (chunk)
		total = famfs_interleave_span(fmap);
	if (total < size) {
		kvfree(fmap);
		return famfs_bad_fmap_from(fdev, src, nodeid,
					   "extents shorter than the file",
					   total);
	}
	err = famfs_fmap_overlaps(fmap, &overlap);
	if (err) {
		kvfree(fmap);
		return err;
	}
	why = "extents overlap";
	if (overlap)
		goto bad;
	fmap->file_size = size;
	fmap->mapped = total;
	*fmapp = fmap;
	return 0;
bad:
	kvfree(fmap);
	return famfs_bad_fmap_from(fdev, src, nodeid, why, i);
}

/*
 * After a map of @inode failed its check: if its size contradicts the
 * attributes, the device is not trusted with this node any more.
 */
static void famfs_fmap_size_lie(struct inode *inode, const void *buf,
				size_t len)
{
	const struct virtio_famfs_fmap_out *out = buf;

	if (len >= sizeof(*out) &&
	    le64_to_cpu(out->file_size) != i_size_read(inode))
		FAMFS_I(inode)->bad = true;
}

/* GET_FMAP, retried once with the room an E2BIG reply asked for. */
static int famfs_fmap_fetch(struct inode *inode, struct famfs_fmap **fmapp)
{
	struct famfs_vdev *fdev = famfs_sb_vdev(inode->i_sb);
	u32 cap = min_t(u32, fdev->max_extents, FAMFS_MAX_EXTENTS);
	const struct virtio_famfs_fmap_out *out;
	u64 nodeid = FAMFS_I(inode)->nodeid;
	u32 room = min_t(u32, cap, FAMFS_FMAP_FIRST);
	struct famfs_req *req;
	bool retried = false;
	u32 need;
	int err;

	/* A FORGET of this node must not follow the new GET_FMAP. */
	err = famfs_forget_cancel(fdev, nodeid);
	if (err)
		return err;
	for (;;) {
		/* Room for an interleaved reply's chunk size too. */
		req = famfs_req_alloc(0, sizeof(*out) +
				      sizeof(struct virtio_famfs_fmap_interleave) +
				      room * sizeof(struct virtio_famfs_extent));
		if (!req)
			return -ENOMEM;
		err = famfs_req_send(fdev, req, VIRTIO_FAMFS_OP_GET_FMAP,
				     nodeid, sizeof(*out));
		if (err != -E2BIG || retried)
			break;
		out = famfs_req_reply(req);
		if (famfs_req_reply_len(req) < sizeof(*out)) {
			famfs_req_put(req);
			return famfs_bad_fmap(fdev, nodeid, "short E2BIG", 0);
		}
		need = le32_to_cpu(out->nextents);
		famfs_req_put(req);
		if (need > cap) {
			/* A striped file for a driver without F_INTERLEAVE. */
			pr_err_ratelimited("%s: node %llu needs %u extents, this driver takes %u\n",
					   fdev->tag, nodeid, need, cap);
			return -EFBIG;
		}
		if (need <= room)
			return famfs_bad_fmap(fdev, nodeid,
					      "E2BIG asks for extents", need);
		room = need;
		retried = true;
	}
	if (err == -E2BIG) {
		err = famfs_bad_fmap(fdev, nodeid, "E2BIG twice", room);
	} else if (!err) {
		err = famfs_fmap_parse(fdev, FAMFS_SB(inode->i_sb)->window_len,
				       nodeid, i_size_read(inode), FAMFS_FMAP_GET,
				       famfs_req_reply(req),
				       famfs_req_reply_len(req), fmapp);
		if (err == -EIO)
			famfs_fmap_size_lie(inode, famfs_req_reply(req),
					    famfs_req_reply_len(req));
	}
	famfs_req_put(req);
	return err;
}

/*
 * Makes sure the extent map is cached; a file that is still pending has
 * none and needs none (its size is 0). Pending is checked again under
 * fmap_lock, which famfs_create_pending() holds while it publishes the
 * size: a caller that saw the new size gets the map.
 */
static int famfs_fmap_get(struct inode *inode)
{
	struct famfs_inode *fi = FAMFS_I(inode);
	struct famfs_fmap *fmap = NULL;
	int err = 0;

	if (famfs_inode_fmap(fi))
		return 0;
	if (READ_ONCE(fi->bad))
		return -EIO;

	/* Killable: the holder may be waiting for a slow device. */
	if (mutex_lock_killable(&fi->fmap_lock))
		return -EINTR;
	if (!fi->fmap && !fi->pending) {
		err = famfs_fmap_fetch(inode, &fmap);
		if (!err) {
			famfs_set_fmap(fi, fmap);
			famfs_stat_inc(famfs_sb_vdev(inode->i_sb),
				       FAMFS_STAT_FMAPS_CACHED);
		}
	}
	mutex_unlock(&fi->fmap_lock);
	return err;
}

/**
 * famfs_fmap_inline - cache the map a LOOKUP or READDIRPLUS reply carried
 * @inode: the node the reply named, from famfs_iget()
 * @buf: the inline map (VIRTIO_FAMFS_F_ENTRY_FMAP)
 * @len: its length in bytes; 0: none came
 *
 * The map is checked as a GET_FMAP reply would be; one that fails leaves
 * the inode without a map, as a failed GET_FMAP does.
 *
 * Return: 0, or -EIO (logged) if the map cannot be used.
 */
int famfs_fmap_inline(struct inode *inode, const void *buf, size_t len)
{
	struct famfs_vdev *fdev = famfs_sb_vdev(inode->i_sb);
	struct famfs_inode *fi = FAMFS_I(inode);
	struct famfs_fmap *fmap;
	int err;

	if (!len)
		return 0;
	if (!S_ISREG(inode->i_mode))
		return famfs_bad_fmap_from(fdev, FAMFS_FMAP_INLINE, fi->nodeid,
					   "map for a directory", len);
	/* Maps never change: one already cached needs no second look. */
	if (famfs_inode_fmap(fi))
		return 0;
	if (READ_ONCE(fi->bad))
		return -EIO;
	err = famfs_fmap_parse(fdev, FAMFS_SB(inode->i_sb)->window_len,
			       fi->nodeid, i_size_read(inode), FAMFS_FMAP_INLINE,
			       buf, len, &fmap);
	if (err == -EIO)
		famfs_fmap_size_lie(inode, buf, len);
	if (err)
		return err;

	/* A holder is fetching the same map with GET_FMAP: leave it to it. */
	if (!mutex_trylock(&fi->fmap_lock)) {
		kvfree(fmap);
		return 0;
	}
	if (!fi->fmap && !fi->pending) {
		famfs_set_fmap(fi, fmap);
		fmap = NULL;
		famfs_stat_inc(fdev, FAMFS_STAT_FMAPS_INLINE);
	}
	mutex_unlock(&fi->fmap_lock);
	kvfree(fmap);
	return 0;
}

/**
 * famfs_fmap_check_inline - check an inline map before its node is known
 * @fdev: the device
 * @attr: the attributes the map came with, checked with famfs_check_attr()
 * @buf: the inline map
 * @len: its length in bytes, not 0
 *
 * For a READDIRPLUS reply, which is rejected whole if one of its maps is
 * bad: the same checks famfs_fmap_inline() makes, against @attr.
 *
 * Return: 0, -EIO (logged) or -ENOMEM.
 */
int famfs_fmap_check_inline(struct famfs_vdev *fdev,
			    const struct virtio_famfs_attr *attr,
			    const void *buf, size_t len)
{
	u64 nodeid = le64_to_cpu(attr->nodeid);
	struct famfs_fmap *fmap;
	int err;

	if (!S_ISREG(le32_to_cpu(attr->mode)))
		return famfs_bad_fmap_from(fdev, FAMFS_FMAP_INLINE, nodeid,
					   "map for a directory", len);
	/* The mount's window is checked again when the map is installed. */
	err = famfs_fmap_parse(fdev, fdev->device_size, nodeid,
			       le64_to_cpu(attr->size), FAMFS_FMAP_INLINE, buf,
			       len, &fmap);
	if (!err)
		kvfree(fmap);
	return err;
}

/* True if no request is needed before I/O: mapped, or nothing to map. */
static bool famfs_fmap_cached(struct inode *inode)
{
	struct famfs_inode *fi = FAMFS_I(inode);

	return famfs_inode_fmap(fi) || famfs_inode_pending(fi);
}

static const struct famfs_extent *famfs_fmap_find(const struct famfs_fmap *fmap,
						  u64 pos)
{
	u32 lo = 0, hi = fmap->nextents;

	while (hi - lo > 1) {
		u32 mid = lo + (hi - lo) / 2;

		if (fmap->ext[mid].file_off <= pos)
			lo = mid;
		else
			hi = mid;
	}
	return &fmap->ext[lo];
}

/*
 * Section 7.10: chunk k of an interleaved file is chunk k / n of strip
 * k % n. pos < fmap->mapped keeps the chunk inside its strip.
 */
static void famfs_interleave_resolve(const struct famfs_fmap *fmap, u64 pos,
				     struct iomap *iomap)
{
	u64 k = div64_u64(pos, fmap->chunk_size), row = k;
	u32 strip = do_div(row, fmap->nextents);

	iomap->offset = k * fmap->chunk_size;
	iomap->length = fmap->chunk_size;
	iomap->addr = fmap->ext[strip].dev_off + row * fmap->chunk_size;
}

/* ---- iomap ------------------------------------------------------------- */

static int famfs_iomap_begin(struct inode *inode, loff_t pos, loff_t length,
			     unsigned int flags, struct iomap *iomap,
			     struct iomap *srcmap)
{
	struct famfs_fmap *fmap = famfs_inode_fmap(FAMFS_I(inode));
	const struct famfs_extent *e;
	int err;

	iomap->dax_dev = FAMFS_SB(inode->i_sb)->dax_dev;
	iomap->bdev = NULL;
	iomap->flags = 0;
	if (famfs_sb_gone(inode->i_sb))
		return -ENODEV;
	if (!fmap) {
		/* Created on the device since the caller looked: fetch. */
		if (flags & IOMAP_NOWAIT)
			return -EAGAIN;
		err = famfs_fmap_get(inode);
		if (err)
			return err;
		fmap = famfs_inode_fmap(FAMFS_I(inode));
	}
	if (!fmap || READ_ONCE(FAMFS_I(inode)->bad))
		return -EIO;
	if (pos >= fmap->mapped) {
		/* Callers stop at i_size, which the extents cover. */
		if (flags & IOMAP_WRITE)
			return -EIO;
		iomap->type = IOMAP_HOLE;
		iomap->addr = IOMAP_NULL_ADDR;
		iomap->offset = pos;
		iomap->length = length;
		return 0;
	}
	iomap->type = IOMAP_MAPPED;
	if (fmap->chunk_size) {
		famfs_interleave_resolve(fmap, pos, iomap);
	} else {
		e = famfs_fmap_find(fmap, pos);
		iomap->offset = e->file_off;
		iomap->length = e->len;
		iomap->addr = e->dev_off;
	}
	/* A pmem window may be a partition: device offset 0 lies there. */
	iomap->addr += FAMFS_SB(inode->i_sb)->dax_off;
	return 0;
}

static const struct iomap_ops famfs_iomap_ops = {
	.iomap_begin	= famfs_iomap_begin,
};

/* ---- read and write ---------------------------------------------------- */

/*
 * Data reaches the window through non-temporal stores (the DAX device is
 * nocache) and cache write-backs (dax_flush()), which other CPUs and hosts
 * see only once fenced: write(2), fsync() and msync() do so before they
 * return (spec section 8).
 */
static void famfs_fence_writes(void)
{
	/* x86: sfence, which orders movnt and clwb */
	wmb();
}

static int famfs_write_denied(struct inode *inode)
{
	if (sb_rdonly(inode->i_sb) ||
	    famfs_vdev_read_only(famfs_sb_vdev(inode->i_sb)))
		return -EROFS;
	if (FAMFS_I(inode)->attr_flags & VIRTIO_FAMFS_ATTR_F_RDONLY)
		return -EPERM;
	if (READ_ONCE(FAMFS_I(inode)->bad))
		return -EIO;
	return 0;
}

/* Read and write need the extent map; NOWAIT callers only if it is cached. */
static int famfs_rw_fmap(struct kiocb *iocb, struct inode *inode)
{
	if ((iocb->ki_flags & IOCB_NOWAIT) && !famfs_fmap_cached(inode))
		return -EAGAIN;
	return famfs_fmap_get(inode);
}

static ssize_t famfs_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	size_t shorted;
	loff_t size;
	ssize_t ret;

	if (!iov_iter_count(to))
		return 0;
	ret = famfs_rw_fmap(iocb, inode);
	if (ret)
		return ret;

	if (iocb->ki_flags & IOCB_NOWAIT) {
		if (!inode_trylock_shared(inode))
			return -EAGAIN;
	} else {
		inode_lock_shared(inode);
	}
	size = i_size_read(inode);
	if (iocb->ki_pos >= size) {
		inode_unlock_shared(inode);
		return 0;
	}
	shorted = iov_iter_count(to);
	iov_iter_truncate(to, size - iocb->ki_pos);
	shorted -= iov_iter_count(to);
	ret = dax_iomap_rw(iocb, to, &famfs_iomap_ops);
	iov_iter_reexpand(to, iov_iter_count(to) + shorted);
	inode_unlock_shared(inode);

	file_accessed(iocb->ki_filp);
	return ret;
}

static ssize_t famfs_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	size_t shorted;
	loff_t size;
	ssize_t ret;

	ret = famfs_write_denied(inode);
	if (ret)
		return ret;
	ret = famfs_rw_fmap(iocb, inode);
	if (ret)
		return ret;

	if (iocb->ki_flags & IOCB_NOWAIT) {
		if (!inode_trylock(inode))
			return -EAGAIN;
	} else {
		inode_lock(inode);
	}
	ret = generic_write_checks(iocb, from);
	if (ret <= 0)
		goto out;
	/* A famfs file never grows: stop at its end. */
	size = i_size_read(inode);
	if (iocb->ki_pos >= size) {
		ret = -ENOSPC;
		goto out;
	}
	/* Writing drops setuid/setgid (in this guest: see famfs_setattr()). */
	ret = file_remove_privs(iocb->ki_filp);
	if (ret)
		goto out;
	shorted = iov_iter_count(from);
	iov_iter_truncate(from, size - iocb->ki_pos);
	shorted -= iov_iter_count(from);
	ret = dax_iomap_rw(iocb, from, &famfs_iomap_ops);
	iov_iter_reexpand(from, iov_iter_count(from) + shorted);
	if (ret > 0)
		famfs_fence_writes();
out:
	inode_unlock(inode);
	return ret;
}

/* ---- mmap and faults --------------------------------------------------- */

static vm_fault_t famfs_fault(struct vm_fault *vmf, unsigned int order)
{
	struct inode *inode = file_inode(vmf->vma->vm_file);
	struct famfs_vdev *fdev = famfs_sb_vdev(inode->i_sb);
	bool write = (vmf->flags & FAULT_FLAG_WRITE) &&
		     (vmf->vma->vm_flags & VM_SHARED);
	vm_fault_t ret;
	pfn_t pfn;
	int err;

	if (order && order != PMD_ORDER)
		return VM_FAULT_FALLBACK;
	if (famfs_sb_gone(inode->i_sb))
		return VM_FAULT_SIGBUS;
	/* Only a file created after it was mapped has no map yet. */
	err = famfs_fmap_get(inode);
	if (err)
		return vmf_error(err);
	if (write) {
		if (famfs_write_denied(inode))
			return VM_FAULT_SIGBUS;
		sb_start_pagefault(inode->i_sb);
	}
	/* Shared: famfs_inode_shutdown() excludes faults with it. */
	filemap_invalidate_lock_shared(inode->i_mapping);
	ret = dax_iomap_fault(vmf, order, &pfn, NULL, &famfs_iomap_ops);
	filemap_invalidate_unlock_shared(inode->i_mapping);
	if (write)
		sb_end_pagefault(inode->i_sb);

	if (order) {
		if (ret & VM_FAULT_FALLBACK)
			famfs_stat_inc(fdev, FAMFS_STAT_FAULT_FALLBACK);
		else if (!(ret & VM_FAULT_ERROR))
			famfs_stat_inc(fdev, FAMFS_STAT_FAULT_PMD);
	} else if (!(ret & VM_FAULT_ERROR)) {
		famfs_stat_inc(fdev, FAMFS_STAT_FAULT_PTE);
	}
	return ret;
}

static vm_fault_t famfs_filemap_fault(struct vm_fault *vmf)
{
	return famfs_fault(vmf, 0);
}

static vm_fault_t famfs_filemap_huge_fault(struct vm_fault *vmf,
					   unsigned int order)
{
	return famfs_fault(vmf, order);
}

static vm_fault_t famfs_filemap_mkwrite(struct vm_fault *vmf)
{
	return famfs_fault(vmf, 0);
}

static const struct vm_operations_struct famfs_vm_ops = {
	.fault		= famfs_filemap_fault,
	.huge_fault	= famfs_filemap_huge_fault,
	.page_mkwrite	= famfs_filemap_mkwrite,
	.pfn_mkwrite	= famfs_filemap_mkwrite,
};

static int famfs_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct inode *inode = file_inode(file);
	int err;

	if (famfs_sb_gone(inode->i_sb))
		return -ENODEV;
	if ((vma->vm_flags & VM_SHARED) && (vma->vm_flags & VM_MAYWRITE)) {
		err = famfs_write_denied(inode);
		if (err)
			return err;
	}
	err = famfs_fmap_get(inode);
	if (err)
		return err;
	file_accessed(file);
	vma->vm_ops = &famfs_vm_ops;
	vm_flags_set(vma, VM_HUGEPAGE);
	return 0;
}

/*
 * fsync() and msync(): write back the cache lines that shared writable
 * mappings dirtied (dax_writeback_mapping_range() cleans the entries and
 * write-protects them again), then fence, as write(2) does.
 */
static int famfs_dax_writepages(struct address_space *mapping,
				struct writeback_control *wbc)
{
	return dax_writeback_mapping_range(mapping,
					   FAMFS_SB(mapping->host->i_sb)->dax_dev,
					   wbc);
}

static int famfs_fsync(struct file *file, loff_t start, loff_t end,
		       int datasync)
{
	int err;

	/* Removal wrote back what was dirty and took the entries away. */
	if (famfs_sb_gone(file_inode(file)->i_sb))
		return -ENODEV;
	err = file_write_and_wait_range(file, start, end);
	famfs_fence_writes();
	return err;
}

/**
 * famfs_inode_shutdown - cut a regular file off a window that is going away
 * @inode: the inode, referenced; the device is marked removed and its dax
 *	device killed, so no new fault or I/O can reach the window
 *
 * fs-dax mappings hold no page references in this kernel: every user PTE
 * and PMD is zapped (the next touch faults and gets SIGBUS), what they
 * dirtied is written back, and every DAX entry is removed, which detaches
 * the struct pages, before the window's pagemap can go.
 */
void famfs_inode_shutdown(struct inode *inode)
{
	struct address_space *mapping = inode->i_mapping;
	struct page *page;

	filemap_invalidate_lock(mapping);
	unmap_mapping_range(mapping, 0, 0, 1);
	/* Pages pinned by get_user_pages() must be let go first. */
	while ((page = dax_layout_busy_page(mapping)) != NULL) {
		filemap_invalidate_unlock(mapping);
		wait_var_event(&page->_refcount, page_ref_count(page) == 1);
		filemap_invalidate_lock(mapping);
	}
	/*
	 * The device is still there (remove() resets it later): what the
	 * mappings stored reaches the memory, as at umount (spec section 8).
	 */
	filemap_fdatawrite(mapping);
	famfs_fence_writes();
	truncate_inode_pages(mapping, 0);
	filemap_invalidate_unlock(mapping);
}

/* ---- open, release and sizes ------------------------------------------- */

static int famfs_file_open(struct inode *inode, struct file *file)
{
	struct famfs_inode *fi = FAMFS_I(inode);
	int err;

	err = generic_file_open(inode, file);
	if (err)
		return err;
	if (famfs_sb_gone(inode->i_sb))
		return -ENODEV;
	if (READ_ONCE(fi->bad))
		return -EIO;
	err = famfs_fmap_get(inode);
	if (err)
		return err;
	/* DAX I/O never goes through a page cache anyway. */
	file->f_mode |= FMODE_CAN_ODIRECT;
	atomic_inc(&fi->opens);
	return 0;
}

/*
 * An isolated window unmaps a file when the driver forgets it, that is
 * when its inode is evicted; the DAX entries its mappings left keep
 * reclaim and drop_caches from evicting it. With no mapping left, write
 * back what they dirtied and drop them. Faults hold invalidate_lock
 * shared: none can add an entry meanwhile.
 */
static void famfs_release_entries(struct inode *inode)
{
	struct address_space *mapping = inode->i_mapping;

	filemap_invalidate_lock(mapping);
	if (!mapping_mapped(mapping) && mapping->nrpages) {
		filemap_write_and_wait(mapping);
		famfs_fence_writes();
		invalidate_inode_pages2(mapping);
	}
	filemap_invalidate_unlock(mapping);
}

/*
 * A file made with O_CREAT and never given a size was never created on
 * the device: when its last user closes it, it goes away.
 */
static int famfs_file_release(struct inode *inode, struct file *file)
{
	struct famfs_vdev *fdev = famfs_sb_vdev(inode->i_sb);
	struct famfs_inode *fi = FAMFS_I(inode);

	if (!atomic_dec_and_test(&fi->opens))
		return 0;
	if (famfs_inode_pending(fi)) {
		inode_lock(inode);
		if (fi->pending && !atomic_read(&fi->opens))
			d_drop(file->f_path.dentry);
		inode_unlock(inode);
	} else if (fdev->forget && !famfs_vdev_gone(fdev)) {
		famfs_release_entries(inode);
	}
	return 0;
}

/*
 * Creates a pending file on the device with its final size. Called with
 * the inode locked.
 */
static int famfs_create_pending(struct dentry *dentry, loff_t size)
{
	struct inode *inode = d_inode(dentry);
	struct famfs_vdev *fdev = famfs_sb_vdev(inode->i_sb);
	struct famfs_inode *fi = FAMFS_I(inode);
	struct virtio_famfs_create_in *in;
	struct virtio_famfs_attr *attr;
	struct name_snapshot name;
	struct famfs_req *req;
	struct dentry *parent;
	int err;

	if (size <= 0)
		return 0;
	if (sb_rdonly(inode->i_sb) || !famfs_vdev_may_create(fdev))
		return -EROFS;

	parent = dget_parent(dentry);
	take_dentry_name_snapshot(&name, dentry);
	req = famfs_req_alloc(sizeof(*in) + name.name.len, sizeof(*attr));
	if (!req) {
		err = -ENOMEM;
		goto out;
	}
	in = famfs_req_body(req);
	in->mode = cpu_to_le32(inode->i_mode & 07777);
	in->uid = cpu_to_le32(from_kuid_munged(&init_user_ns, inode->i_uid));
	in->gid = cpu_to_le32(from_kgid_munged(&init_user_ns, inode->i_gid));
	in->size = cpu_to_le64(size);
	in->namelen = cpu_to_le32(name.name.len);
	memcpy(in + 1, name.name.name, name.name.len);

	err = famfs_req_send(fdev, req, VIRTIO_FAMFS_OP_CREATE,
			     FAMFS_I(d_inode(parent))->nodeid, sizeof(*attr));
	famfs_dir_changed(d_inode(parent));
	if (err)
		goto out;
	attr = famfs_req_reply(req);
	err = famfs_check_attr(fdev, attr, S_IFREG);
	if (err)
		goto out;
	if (le64_to_cpu(attr->size) != size) {
		err = famfs_bad_fmap(fdev, le64_to_cpu(attr->nodeid),
				     "CREATE gave another size",
				     le64_to_cpu(attr->size));
		goto out;
	}

	/* Under fmap_lock: see famfs_fmap_get(). */
	mutex_lock(&fi->fmap_lock);
	i_size_write(inode, size);
	inode->i_blocks = le64_to_cpu(attr->blocks);
	inode->i_generation = (u32)le64_to_cpu(attr->generation);
	fi->attr_flags = le32_to_cpu(attr->flags);
	err = famfs_hash_inode(inode, le64_to_cpu(attr->nodeid));
	if (err)
		fi->bad = true;
	famfs_clear_pending(fi);
	mutex_unlock(&fi->fmap_lock);
out:
	famfs_req_put(req);
	release_dentry_name_snapshot(&name);
	dput(parent);
	return err;
}

static long famfs_fallocate(struct file *file, int mode, loff_t offset,
			    loff_t len)
{
	struct inode *inode = file_inode(file);
	loff_t end;
	long ret;

	/* Files are fully allocated: nothing to punch, zero or collapse. */
	if (mode)
		return -EOPNOTSUPP;
	if (check_add_overflow(offset, len, &end))
		return -EFBIG;
	inode_lock(inode);
	if (FAMFS_I(inode)->pending)
		ret = famfs_create_pending(file->f_path.dentry, end);
	else
		ret = end <= i_size_read(inode) ? 0 : -EPERM;
	inode_unlock(inode);
	return ret;
}

/*
 * The one mode change famfs allows: dropping setuid/setgid when a file is
 * written or truncated (ATTR_KILL_SUID/SGID, from file_remove_privs() and
 * the truncate paths). It holds in this guest only; the device's mode is
 * fixed.
 */
static bool famfs_only_drops_privs(struct inode *inode, struct iattr *attr)
{
	umode_t privs = S_ISUID | S_ISGID;

	return (attr->ia_valid & (ATTR_KILL_SUID | ATTR_KILL_SGID)) &&
	       (attr->ia_mode & ~privs) == (inode->i_mode & ~privs) &&
	       !(attr->ia_mode & ~inode->i_mode);
}

/**
 * famfs_setattr - change attributes, which famfs mostly does not allow
 * @idmap: idmap of the mount
 * @dentry: the node
 * @attr: what to change
 *
 * Owner and mode are fixed (EPERM), except that writes drop setuid/setgid
 * in this guest (famfs_only_drops_privs()). The size of a pending file is set
 * once, which creates it on the device; any other size change is EPERM.
 * famfs keeps no timestamps: setting them succeeds and changes nothing.
 *
 * Return: 0 or a negative errno.
 */
int famfs_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
		  struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	int err;

	err = setattr_prepare(idmap, dentry, attr);
	if (err)
		return err;
	if (attr->ia_valid & (ATTR_UID | ATTR_GID))
		return -EPERM;
	if (attr->ia_valid & ATTR_MODE) {
		if (!famfs_only_drops_privs(inode, attr))
			return -EPERM;
		inode->i_mode = attr->ia_mode;
	}
	if (!(attr->ia_valid & ATTR_SIZE) ||
	    attr->ia_size == i_size_read(inode))
		return 0;
	if (!FAMFS_I(inode)->pending)
		return -EPERM;
	return famfs_create_pending(dentry, attr->ia_size);
}

const struct address_space_operations famfs_dax_aops = {
	.writepages	= famfs_dax_writepages,
	.dirty_folio	= noop_dirty_folio,
};

const struct file_operations famfs_file_operations = {
	.llseek			= generic_file_llseek,
	.read_iter		= famfs_read_iter,
	.write_iter		= famfs_write_iter,
	.splice_read		= copy_splice_read,
	.splice_write		= iter_file_splice_write,
	.mmap			= famfs_file_mmap,
	.open			= famfs_file_open,
	.release		= famfs_file_release,
	.fsync			= famfs_fsync,
	.get_unmapped_area	= thp_get_unmapped_area,
	.fallocate		= famfs_fallocate,
};

/*
 * FIEMAP: the cached extent map, read-only (famfs-guest getmap, filefrag).
 * Physical offsets are device offsets, as on the host. A file that exists
 * only in this guest (not yet sized) has no extents.
 */
static int famfs_fiemap(struct inode *inode, struct fiemap_extent_info *fieinfo,
			u64 start, u64 len)
{
	int err;

	if (famfs_inode_pending(FAMFS_I(inode)))
		return fiemap_prep(inode, fieinfo, start, &len, 0);
	err = famfs_fmap_get(inode);
	if (err)
		return err;
	return iomap_fiemap(inode, fieinfo, start, len, &famfs_iomap_ops);
}

const struct inode_operations famfs_file_inode_operations = {
	.setattr	= famfs_setattr,
	.getattr	= famfs_getattr,
	.fiemap		= famfs_fiemap,
};
