/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-famfs guest driver: internal definitions.
 *
 * famfs_vio.c   virtio transport: probe/remove, request queues, the
 *               notification queue, the DAX window and the tag registry.
 * famfs_super.c file system type, super block, inodes, directories.
 * famfs_forget.c FORGET: tells the device which nodes were evicted.
 * famfs_file.c  extent maps, iomap, read/write, mmap and faults, the
 *               size-setting path of newly created files.
 * famfs_pmem.c  the window from a guest pmem device (-o pmem=) when the
 *               device offers none.
 *
 * The wire format is spec/virtio_famfs.h; nothing here redefines it.
 */
#ifndef _FAMFS_H
#define _FAMFS_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "virtio_famfs.h"

#define FAMFS_NAME		"famfs"
#define FAMFS_SUPER_MAGIC	VIRTIO_FAMFS_MAGIC

/*
 * Bounds the driver puts on what a device may ask it to allocate: an
 * extent map of at most FAMFS_MAX_EXTENTS extents or strips (192 KiB held
 * per open file), a directory listing of at most FAMFS_DIR_MAX_ENTRIES
 * entries (26 MiB held per directory).
 */
#define FAMFS_MAX_EXTENTS	8192	/* 128 KiB GET_FMAP reply */
#define FAMFS_FMAP_FIRST	64	/* extents room of the first GET_FMAP */
#define FAMFS_READDIR_BYTES	(16 * 1024 - 32)	/* reply fits 16 KiB */
#define FAMFS_READDIR_REFETCH	4	/* new fetches per readdir call */
#define FAMFS_DIR_MAX_ENTRIES	262144
/* Largest inline map: VIRTIO_FAMFS_ENTRY_FMAP_MAX strips, interleaved. */
#define FAMFS_INLINE_FMAP_MAX	(sizeof(struct virtio_famfs_fmap_out) + \
				 sizeof(struct virtio_famfs_fmap_interleave) + \
				 VIRTIO_FAMFS_ENTRY_FMAP_MAX * \
				 sizeof(struct virtio_famfs_extent))

/* Counters shown in debugfs: diagnostics, not ABI (README.md). */
enum famfs_stat {
	FAMFS_STAT_REQ_INIT,
	FAMFS_STAT_REQ_STATFS,
	FAMFS_STAT_REQ_LOOKUP,
	FAMFS_STAT_REQ_GETATTR,
	FAMFS_STAT_REQ_READDIR,
	FAMFS_STAT_REQ_GET_FMAP,
	FAMFS_STAT_REQ_CREATE,
	FAMFS_STAT_REQ_MKDIR,
	FAMFS_STAT_REQ_READDIRPLUS,
	FAMFS_STAT_REQ_FORGET,
	FAMFS_STAT_REQ_TOTAL,
	FAMFS_STAT_REQ_ERRORS,
	FAMFS_STAT_FMAPS_CACHED,
	FAMFS_STAT_FMAPS_INLINE,
	FAMFS_STAT_ENTRIES_PRIMED,
	FAMFS_STAT_FAULT_PTE,
	FAMFS_STAT_FAULT_PMD,
	FAMFS_STAT_FAULT_FALLBACK,
	FAMFS_STAT_NOTIFICATIONS,
	FAMFS_STAT_NR
};

/* Per-CPU, so that the fault path never bounces a shared cache line. */
struct famfs_stats {
	u64 v[FAMFS_STAT_NR];
};

struct famfs_vdev;
struct famfs_window;
struct famfs_forget;

/* One virtqueue and the requests it holds. */
struct famfs_vq {
	struct famfs_vdev *fdev;
	struct virtqueue *vq;
	spinlock_t lock;		/* vq, inflight, broken checks */
	struct list_head inflight;	/* requests the device owns */
	atomic_t slots;			/* requests that may still be added */
	wait_queue_head_t slot_wait;	/* also: kicking reached 0 */
	atomic_t kicking;		/* notifies outside the lock */
	unsigned long progress;		/* jiffies of the last reply */
	char name[24];
};

/*
 * One virtio-famfs device. Lives from probe until the device is removed
 * and the last super block using it is gone (kref).
 */
struct famfs_vdev {
	struct kref kref;
	struct list_head list;		/* famfs_devices, by tag */
	struct virtio_device *vdev;	/* NULL once removed */
	struct device *dev;		/* for messages; outlives removal */
	bool removed;			/* remove() has begun */
	char tag[VIRTIO_FAMFS_TAG_SIZE + 1];
	unsigned int timeout_s;		/* mount option; 0: module parameter */

	/* Configuration, read once at probe. */
	u32 cfg_flags;
	u64 device_size;
	u64 alloc_unit;
	u64 meta_size;
	u32 max_extents;
	u8 fs_uuid[VIRTIO_FAMFS_UUID_SIZE];
	bool notify;			/* VIRTIO_FAMFS_F_NOTIFY negotiated */
	bool interleave;		/* VIRTIO_FAMFS_F_INTERLEAVE negotiated */
	bool readdirplus;		/* VIRTIO_FAMFS_F_READDIRPLUS negotiated */
	bool entry_fmap;		/* VIRTIO_FAMFS_F_ENTRY_FMAP negotiated */
	struct famfs_forget *forget;	/* with VIRTIO_FAMFS_F_FORGET */

	/* Queues: notifyq, then nr_rq request queues. */
	struct famfs_vq notifyq;
	struct famfs_vq *rq;
	unsigned int nr_rq;
	struct virtio_famfs_notify *notify_bufs;
	bool broken;			/* every request fails with -EIO */

	/* The DAX window (region 0); pagemap and dax_dev live with fdev. */
	struct dax_device *dax_dev;
	struct famfs_window *window;	/* its pagemap (famfs_vio.c) */
	void *window_kaddr;
	phys_addr_t window_phys;
	u64 window_len;			/* bytes covered by struct pages */
	const char *no_window;		/* why the file system cannot mount */

	/* Session state, set by the first INIT that succeeds. */
	struct mutex init_lock;
	struct famfs_req *init_req;	/* INIT still owned by the device */
	bool ready;			/* smp_load_acquire() */
	u64 root_nodeid;
	u32 readdir_bytes;
	atomic64_t unique;

	/* Namespace changes: bumped by NAMESPACE_CHANGED notifications. */
	atomic64_t ns_seq;
	atomic64_t log_generation;

	/* Mounted super blocks, to cut them off when the device goes. */
	struct mutex sb_lock;
	struct list_head sbs;

	struct dentry *debugfs;
	struct famfs_stats __percpu *stats;
};

static inline void famfs_stat_inc(struct famfs_vdev *fdev, enum famfs_stat s)
{
	this_cpu_inc(fdev->stats->v[s]);
}

static inline bool famfs_vdev_gone(struct famfs_vdev *fdev)
{
	return READ_ONCE(fdev->removed);
}

static inline bool famfs_vdev_ready(struct famfs_vdev *fdev)
{
	/* Pairs with the smp_store_release() that ends a successful INIT. */
	return smp_load_acquire(&fdev->ready);
}

static inline u64 famfs_ns_seq(struct famfs_vdev *fdev)
{
	return atomic64_read(&fdev->ns_seq);
}

static inline bool famfs_vdev_read_only(struct famfs_vdev *fdev)
{
	return fdev->cfg_flags & VIRTIO_FAMFS_CFG_F_READ_ONLY;
}

static inline bool famfs_vdev_may_create(struct famfs_vdev *fdev)
{
	return fdev->cfg_flags & VIRTIO_FAMFS_CFG_F_MAY_CREATE;
}

/*
 * A request: a device-readable part (header, op struct, name) and a
 * device-writable part (response header, reply). Reference counted: the
 * submitter holds one, and the queue one while the device owns the
 * buffers, so a request that times out is freed only when the device
 * gives it back or the queue is torn down.
 */
struct famfs_req {
	refcount_t ref;
	struct completion done;
	struct list_head list;		/* famfs_vq.inflight */
	struct famfs_vq *q;
	int status;			/* 0, or -EIO if failed by the driver */
	unsigned int used;		/* used length the device reported */
	u64 unique;
	void *in;
	size_t in_len;
	void *out;
	size_t out_len;
};

static inline void *famfs_req_body(struct famfs_req *req)
{
	return req->in + sizeof(struct virtio_famfs_req_hdr);
}

static inline void *famfs_req_reply(struct famfs_req *req)
{
	return req->out + sizeof(struct virtio_famfs_resp_hdr);
}

/* Reply bytes after the response header; valid after famfs_req_send(). */
static inline size_t famfs_req_reply_len(struct famfs_req *req)
{
	return req->used - sizeof(struct virtio_famfs_resp_hdr);
}

/* famfs_vio.c */
struct famfs_req *famfs_req_alloc(size_t body_len, size_t reply_len);
void famfs_req_put(struct famfs_req *req);
int famfs_req_send(struct famfs_vdev *fdev, struct famfs_req *req,
		   u32 opcode, u64 nodeid, size_t min_reply);
int famfs_vdev_start(struct famfs_vdev *fdev);
struct famfs_vdev *famfs_vdev_get_by_tag(const char *tag);
void famfs_vdev_put(struct famfs_vdev *fdev);
void famfs_vdev_add_sb(struct famfs_vdev *fdev, struct super_block *sb);
void famfs_vdev_del_sb(struct famfs_vdev *fdev, struct super_block *sb);
int famfs_vio_init(void);
void famfs_vio_exit(void);

/* Per super block; allocated with the fs_context, options parsed into it. */
struct famfs_sb_info {
	struct famfs_vdev *fdev;
	struct super_block *sb;
	struct list_head node;		/* famfs_vdev.sbs */
	struct timespec64 mount_time;	/* famfs keeps no timestamps */
	unsigned int timeout_s;		/* -o timeout=, 0 if not given */
	bool allow_suid;		/* show setuid/setgid bits (option) */
	char *pmem_path;		/* -o pmem=, NULL if not given */

	/* The window files are mapped through: the device's, or pmem's. */
	struct dax_device *dax_dev;
	u64 dax_off;			/* dax_dev offset of device offset 0 */
	u64 window_len;			/* device bytes it covers */
	struct file *pmem_bdev;		/* the pmem= block device, held */
	struct mutex pmem_lock;		/* pmem removal against umount */
	bool window_gone;		/* the pmem device was removed */
};

static inline struct famfs_sb_info *FAMFS_SB(struct super_block *sb)
{
	return sb->s_fs_info;
}

/* Files of @sb can no longer reach their window: ENODEV, SIGBUS. */
static inline bool famfs_sb_gone(struct super_block *sb)
{
	return famfs_vdev_gone(FAMFS_SB(sb)->fdev) ||
	       READ_ONCE(FAMFS_SB(sb)->window_gone);
}

static inline struct famfs_vdev *famfs_sb_vdev(struct super_block *sb)
{
	return FAMFS_SB(sb)->fdev;
}

/*
 * A file's extents as GET_FMAP gave them: simple (file_off set, file
 * order) or, when chunk_size is not 0, the strips of an interleaved map,
 * resolved arithmetically and never expanded (file_off unused).
 */
struct famfs_extent {
	u64 file_off;
	u64 dev_off;
	u64 len;
};

struct famfs_fmap {
	u64 file_size;
	u64 mapped;			/* file bytes the extents cover */
	u64 chunk_size;			/* 0: simple map */
	u32 nextents;
	struct famfs_extent ext[] __counted_by(nextents);
};

/* A directory's listing; it only grows, so positions stay valid. */
struct famfs_dirent {
	u64 nodeid;
	u64 cookie;
	u8 type;
	u8 namelen;
	char name[VIRTIO_FAMFS_NAME_MAX];
};

struct famfs_dir_cache {
	struct famfs_dirent *ents;
	u32 nr;
	u32 cap;
	bool eof;			/* the device said EOF ... */
	u64 seq;			/* ... at this namespace sequence */
};

struct famfs_inode {
	struct inode vfs_inode;
	u64 nodeid;			/* 0 while pending */
	u32 attr_flags;			/* VIRTIO_FAMFS_ATTR_F_* */
	bool pending;			/* created here, not on the device */
	bool bad;			/* device contradicted itself */
	atomic_t opens;			/* open files, for pending ones */
	struct mutex fmap_lock;		/* serializes the GET_FMAP */
	struct famfs_fmap *fmap;	/* set once; smp_load_acquire() */
	struct mutex dir_lock;		/* protects dir */
	struct famfs_dir_cache dir;
	u64 attr_seq;			/* ns_seq when nlink was refreshed */
};

static inline struct famfs_inode *FAMFS_I(struct inode *inode)
{
	return container_of(inode, struct famfs_inode, vfs_inode);
}

static inline struct famfs_fmap *famfs_inode_fmap(struct famfs_inode *fi)
{
	/* The map is published once, complete: see famfs_set_fmap(). */
	return smp_load_acquire(&fi->fmap);
}

static inline void famfs_set_fmap(struct famfs_inode *fi,
				  struct famfs_fmap *fmap)
{
	/* Pairs with famfs_inode_fmap(). */
	smp_store_release(&fi->fmap, fmap);
}

static inline bool famfs_inode_pending(struct famfs_inode *fi)
{
	/* Node id and size are set first: see famfs_clear_pending(). */
	return smp_load_acquire(&fi->pending);
}

static inline void famfs_clear_pending(struct famfs_inode *fi)
{
	/* Pairs with famfs_inode_pending(). */
	smp_store_release(&fi->pending, false);
}

/* famfs_forget.c */
int famfs_forget_init(struct famfs_vdev *fdev);
void famfs_forget_queue(struct famfs_vdev *fdev, u64 nodeid);
int famfs_forget_cancel(struct famfs_vdev *fdev, u64 nodeid);
void famfs_forget_flush(struct famfs_vdev *fdev);
void famfs_forget_stop(struct famfs_vdev *fdev);
void famfs_forget_free(struct famfs_vdev *fdev);

/* famfs_super.c */
struct inode *famfs_iget(struct super_block *sb,
			 const struct virtio_famfs_attr *attr);
int famfs_check_attr(struct famfs_vdev *fdev,
		     const struct virtio_famfs_attr *attr, umode_t type);
int famfs_hash_inode(struct inode *inode, u64 nodeid);
void famfs_dir_changed(struct inode *dir);
int famfs_getattr(struct mnt_idmap *idmap, const struct path *path,
		  struct kstat *stat, u32 request_mask, unsigned int flags);
void famfs_sb_shutdown(struct super_block *sb);

/* famfs_pmem.c */
int famfs_pmem_attach(struct super_block *sb, struct fs_context *fc);
void famfs_pmem_detach(struct super_block *sb);

/* famfs_file.c */
extern const struct file_operations famfs_file_operations;
extern const struct inode_operations famfs_file_inode_operations;
extern const struct address_space_operations famfs_dax_aops;
int famfs_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
		  struct iattr *attr);
void famfs_fmap_free(struct famfs_inode *fi);
int famfs_fmap_inline(struct inode *inode, const void *buf, size_t len);
int famfs_fmap_check_inline(struct famfs_vdev *fdev,
			    const struct virtio_famfs_attr *attr,
			    const void *buf, size_t len);
void famfs_inode_shutdown(struct inode *inode);

#endif /* _FAMFS_H */
