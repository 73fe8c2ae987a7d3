// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-famfs: the virtio transport of the famfs guest driver.
 *
 * Finds the device, checks its configuration, sets up the notification
 * queue and the request queues, turns shared memory region 0 into a DAX
 * device, sends requests and checks every reply before the file system
 * code sees it. The device is registered by its tag, which is what
 * "mount -t famfs <tag> <dir>" names.
 *
 * Probe does no device I/O: INIT is sent by the first mount. A device that
 * stops answering must never hang a task: every wait is killable, and a
 * request fails once its queue has made no progress for the request
 * timeout, which marks the device broken: every pending and later request
 * fails with -EIO. An INIT that is not answered in time is not abandoned
 * (no second INIT may be outstanding); the next mount waits for it again.
 *
 * Removal while mounted: the super blocks are cut off first (user
 * mappings zapped, DAX entries truncated, every later access fails), then
 * the queues; the dax device and the pagemap stay until the last mount is
 * gone, so nothing can reach freed struct pages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dax.h>
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/errno.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/memremap.h>
#include <linux/module.h>
#include <linux/pfn_t.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>

#include "famfs.h"

#define FAMFS_NOTIFY_BUFS	4
#define FAMFS_MAX_RQ		16

static unsigned int request_timeout = 30;
module_param(request_timeout, uint, 0644);
MODULE_PARM_DESC(request_timeout,
		 "Seconds a request queue may make no progress before the device is considered dead (1-3600, default 30; mount option timeout= overrides)");

/*
 * VMMs that refuse an ID they have no name for get a stand-in (spec
 * section 1): 6 unless the VMM needs another, e.g. cloud-hypervisor's
 * --generic-vhost-user device_type=N. Fixed once the driver registers.
 */
static unsigned int device_id = VIRTIO_ID_FAMFS_COMPAT;
module_param(device_id, uint, 0444);
MODULE_PARM_DESC(device_id,
		 "Virtio device ID bound besides 56 (VIRTIO_ID_FAMFS); the device must show the famfs config magic (default 6)");

/* Off: behave as a driver without these features (tests, diagnosis). */
static bool readdirplus = true;
module_param(readdirplus, bool, 0444);
MODULE_PARM_DESC(readdirplus,
		 "Accept VIRTIO_FAMFS_F_READDIRPLUS: listings carry attributes (default on)");

static bool entry_fmap = true;
module_param(entry_fmap, bool, 0444);
MODULE_PARM_DESC(entry_fmap,
		 "Accept VIRTIO_FAMFS_F_ENTRY_FMAP: small extent maps come with LOOKUP and READDIRPLUS (default on)");

static DEFINE_MUTEX(famfs_devices_lock);
static LIST_HEAD(famfs_devices);
static struct dentry *famfs_debugfs_root;

static const char * const famfs_stat_names[FAMFS_STAT_NR] = {
	[FAMFS_STAT_REQ_INIT]		= "req_init",
	[FAMFS_STAT_REQ_STATFS]		= "req_statfs",
	[FAMFS_STAT_REQ_LOOKUP]		= "req_lookup",
	[FAMFS_STAT_REQ_GETATTR]	= "req_getattr",
	[FAMFS_STAT_REQ_READDIR]	= "req_readdir",
	[FAMFS_STAT_REQ_GET_FMAP]	= "req_get_fmap",
	[FAMFS_STAT_REQ_CREATE]		= "req_create",
	[FAMFS_STAT_REQ_MKDIR]		= "req_mkdir",
	[FAMFS_STAT_REQ_READDIRPLUS]	= "req_readdirplus",
	[FAMFS_STAT_REQ_FORGET]		= "req_forget",
	[FAMFS_STAT_REQ_TOTAL]		= "req_total",
	[FAMFS_STAT_REQ_ERRORS]		= "req_errors",
	[FAMFS_STAT_FMAPS_CACHED]	= "fmaps_cached",
	[FAMFS_STAT_FMAPS_INLINE]	= "fmaps_inline",
	[FAMFS_STAT_ENTRIES_PRIMED]	= "entries_primed",
	[FAMFS_STAT_FAULT_PTE]		= "fault_pte",
	[FAMFS_STAT_FAULT_PMD]		= "fault_pmd",
	[FAMFS_STAT_FAULT_FALLBACK]	= "fault_fallback",
	[FAMFS_STAT_NOTIFICATIONS]	= "notifications",
};

static const char *famfs_op_name(u32 opcode)
{
	static const char * const names[] = {
		[VIRTIO_FAMFS_OP_INIT]		= "INIT",
		[VIRTIO_FAMFS_OP_STATFS]	= "STATFS",
		[VIRTIO_FAMFS_OP_LOOKUP]	= "LOOKUP",
		[VIRTIO_FAMFS_OP_GETATTR]	= "GETATTR",
		[VIRTIO_FAMFS_OP_READDIR]	= "READDIR",
		[VIRTIO_FAMFS_OP_GET_FMAP]	= "GET_FMAP",
		[VIRTIO_FAMFS_OP_CREATE]	= "CREATE",
		[VIRTIO_FAMFS_OP_MKDIR]		= "MKDIR",
		[VIRTIO_FAMFS_OP_READDIRPLUS]	= "READDIRPLUS",
		[VIRTIO_FAMFS_OP_FORGET]	= "FORGET",
	};

	if (opcode < ARRAY_SIZE(names) && names[opcode])
		return names[opcode];
	return "?";
}

/* The wire carries asm-generic errno values; map the ones defined. */
static int famfs_wire_errno(u32 error)
{
	switch (error) {
	case VIRTIO_FAMFS_ENOENT:	return -ENOENT;
	case VIRTIO_FAMFS_EIO:		return -EIO;
	case VIRTIO_FAMFS_E2BIG:	return -E2BIG;
	case VIRTIO_FAMFS_EAGAIN:	return -EAGAIN;
	case VIRTIO_FAMFS_EEXIST:	return -EEXIST;
	case VIRTIO_FAMFS_ENOTDIR:	return -ENOTDIR;
	case VIRTIO_FAMFS_EISDIR:	return -EISDIR;
	case VIRTIO_FAMFS_EINVAL:	return -EINVAL;
	case VIRTIO_FAMFS_ENOSPC:	return -ENOSPC;
	case VIRTIO_FAMFS_EROFS:	return -EROFS;
	case VIRTIO_FAMFS_ERANGE:	return -ERANGE;
	case VIRTIO_FAMFS_ENAMETOOLONG:	return -ENAMETOOLONG;
	case VIRTIO_FAMFS_ENOSYS:	return -EOPNOTSUPP;
	case VIRTIO_FAMFS_EPROTO:	return -EPROTO;
	case VIRTIO_FAMFS_ESTALE:	return -ESTALE;
	default:			return -EIO;
	}
}

/* ---- requests ---------------------------------------------------------- */

/**
 * famfs_req_alloc - allocate a request
 * @body_len: bytes of the readable part after the request header
 * @reply_len: bytes of the writable part after the response header
 *
 * Both parts are zeroed.
 *
 * Return: the request with one reference, or NULL.
 */
struct famfs_req *famfs_req_alloc(size_t body_len, size_t reply_len)
{
	struct famfs_req *req;

	req = kzalloc(sizeof(*req), GFP_KERNEL);
	if (!req)
		return NULL;
	req->in_len = sizeof(struct virtio_famfs_req_hdr) + body_len;
	req->out_len = sizeof(struct virtio_famfs_resp_hdr) + reply_len;
	req->in = kzalloc(req->in_len, GFP_KERNEL);
	req->out = kzalloc(req->out_len, GFP_KERNEL | __GFP_NOWARN);
	if (!req->in || !req->out) {
		kfree(req->in);
		kfree(req->out);
		kfree(req);
		return NULL;
	}
	refcount_set(&req->ref, 1);
	init_completion(&req->done);
	INIT_LIST_HEAD(&req->list);
	return req;
}

/**
 * famfs_req_put - drop a reference to a request
 * @req: the request, or NULL
 */
void famfs_req_put(struct famfs_req *req)
{
	if (req && refcount_dec_and_test(&req->ref)) {
		kfree(req->in);
		kfree(req->out);
		kfree(req);
	}
}

static long famfs_timeout(struct famfs_vdev *fdev)
{
	unsigned int s = READ_ONCE(fdev->timeout_s);

	if (!s)
		s = READ_ONCE(request_timeout);
	return (long)clamp(s, 1U, 3600U) * HZ;
}

/*
 * Jiffies left before a queue that has not moved since @start (or its
 * last reply, whichever is later) is declared stalled; <= 0 if it is.
 */
static long famfs_progress_left(struct famfs_vdev *fdev, struct famfs_vq *q,
				unsigned long start)
{
	unsigned long since = READ_ONCE(q->progress);

	if (time_before(since, start))
		since = start;
	return (long)(since + famfs_timeout(fdev) - jiffies);
}

/*
 * Fails every request the device still owns and every later one. The
 * buffers stay with the queue until the device is reset.
 */
static void famfs_vdev_break(struct famfs_vdev *fdev, const char *why)
{
	struct famfs_req *req;
	unsigned long flags;
	bool was_broken;
	unsigned int i;

	was_broken = READ_ONCE(fdev->broken);
	WRITE_ONCE(fdev->broken, true);
	for (i = 0; i < fdev->nr_rq; i++) {
		struct famfs_vq *q = &fdev->rq[i];

		spin_lock_irqsave(&q->lock, flags);
		list_for_each_entry(req, &q->inflight, list) {
			req->status = -EIO;
			complete(&req->done);
		}
		spin_unlock_irqrestore(&q->lock, flags);
		wake_up_all(&q->slot_wait);
	}
	if (why && !was_broken)
		dev_err(fdev->dev, "%s: %s; failing all requests\n", fdev->tag,
			why);
}

static bool famfs_vq_try_slot(struct famfs_vq *q, int *err)
{
	if (READ_ONCE(q->fdev->broken)) {
		*err = -EIO;
		return true;
	}
	if (atomic_add_unless(&q->slots, -1, 0)) {
		*err = 0;
		return true;
	}
	return false;
}

static void famfs_vq_put_slot(struct famfs_vq *q)
{
	atomic_inc(&q->slots);
	wake_up(&q->slot_wait);
}

/* Makes @req available to the device; it holds a reference meanwhile. */
static int famfs_vq_add(struct famfs_vq *q, struct famfs_req *req)
{
	struct scatterlist in_sg, out_sg, *sgs[2] = { &in_sg, &out_sg };
	unsigned long flags;
	bool notify = false;
	int ret;

	sg_init_one(&in_sg, req->in, req->in_len);
	sg_init_one(&out_sg, req->out, req->out_len);

	spin_lock_irqsave(&q->lock, flags);
	if (q->fdev->broken) {
		ret = -EIO;
	} else {
		ret = virtqueue_add_sgs(q->vq, sgs, 1, 1, req, GFP_ATOMIC);
		if (!ret) {
			refcount_inc(&req->ref);
			req->q = q;
			list_add_tail(&req->list, &q->inflight);
			notify = virtqueue_kick_prepare(q->vq);
			/* remove() waits for this before it frees the vq. */
			if (notify)
				atomic_inc(&q->kicking);
		}
	}
	spin_unlock_irqrestore(&q->lock, flags);
	/* The notification may trap to the VMM: not under the lock. */
	if (notify) {
		virtqueue_notify(q->vq);
		if (atomic_dec_and_test(&q->kicking) &&
		    READ_ONCE(q->fdev->broken))
			wake_up_all(&q->slot_wait);
	}
	/* No memory for indirect descriptors is not a device failure. */
	if (ret == -ENOMEM)
		return ret;
	return ret ? -EIO : 0;
}

static void famfs_rq_done(struct virtqueue *vq)
{
	struct famfs_vdev *fdev = vq->vdev->priv;
	struct famfs_vq *q = &fdev->rq[vq->index - VIRTIO_FAMFS_VQ_REQUEST_BASE];
	struct famfs_req *req, *tmp;
	unsigned long flags;
	unsigned int len;
	LIST_HEAD(done);

	spin_lock_irqsave(&q->lock, flags);
	do {
		virtqueue_disable_cb(vq);
		while ((req = virtqueue_get_buf(vq, &len)) != NULL) {
			req->used = len;
			list_move_tail(&req->list, &done);
		}
	} while (!virtqueue_enable_cb(vq));
	if (!list_empty(&done))
		WRITE_ONCE(q->progress, jiffies);
	spin_unlock_irqrestore(&q->lock, flags);

	list_for_each_entry_safe(req, tmp, &done, list) {
		list_del_init(&req->list);
		complete(&req->done);
		famfs_vq_put_slot(q);
		famfs_req_put(req);
	}
}

static int famfs_bad_reply(struct famfs_vdev *fdev, u32 opcode, const char *why,
			   u64 a, u64 b)
{
	dev_err_ratelimited(fdev->dev, "%s: invalid reply to %s: %s (%llu, %llu)\n",
			    fdev->tag, famfs_op_name(opcode), why, a, b);
	return -EIO;
}

/* Section 7.14: the checks every reply passes before it is used. */
static int famfs_check_reply(struct famfs_vdev *fdev, struct famfs_req *req,
			     u32 opcode, u64 unique, size_t min_reply)
{
	const struct virtio_famfs_resp_hdr *resp = req->out;
	u32 error;

	if (req->used < sizeof(*resp) || req->used > req->out_len)
		return famfs_bad_reply(fdev, opcode, "used length out of range",
				       req->used, req->out_len);
	if (le32_to_cpu(resp->len) != req->used)
		return famfs_bad_reply(fdev, opcode, "resp.len != used length",
				       le32_to_cpu(resp->len), req->used);
	if (le64_to_cpu(resp->unique) != unique)
		return famfs_bad_reply(fdev, opcode, "wrong unique",
				       le64_to_cpu(resp->unique), unique);
	error = le32_to_cpu(resp->error);
	if (error > MAX_ERRNO)
		return famfs_bad_reply(fdev, opcode, "error out of range",
				       error, MAX_ERRNO);
	if (error)
		return famfs_wire_errno(error);
	if (famfs_req_reply_len(req) < min_reply)
		return famfs_bad_reply(fdev, opcode, "short reply",
				       famfs_req_reply_len(req), min_reply);
	return 0;
}

static bool famfs_expected_error(u32 opcode, int err)
{
	return (opcode == VIRTIO_FAMFS_OP_LOOKUP && err == -ENOENT) ||
	       (opcode == VIRTIO_FAMFS_OP_GET_FMAP && err == -E2BIG);
}

/* Waits for a free slot as long as the queue keeps moving. */
static int famfs_wait_slot(struct famfs_vdev *fdev, struct famfs_vq *q)
{
	unsigned long start = jiffies;
	long left;
	int err;

	for (;;) {
		left = famfs_progress_left(fdev, q, start);
		if (left <= 0) {
			famfs_vdev_break(fdev, "request queue stalled");
			return -EIO;
		}
		left = wait_event_killable_timeout(q->slot_wait,
						   famfs_vq_try_slot(q, &err),
						   left);
		if (left < 0)
			return -EINTR;
		if (left)
			return err;
	}
}

/*
 * Waits for @req's reply. A request only times out when its queue has
 * made no progress for the timeout since this wait began: a queue full
 * of slow requests that the device keeps answering is not a dead one.
 *
 * Return: > 0 when done, 0 if the queue stalled, -ERESTARTSYS if killed.
 */
static long famfs_wait_reply(struct famfs_vdev *fdev, struct famfs_req *req)
{
	unsigned long start = jiffies;
	long left;

	for (;;) {
		left = famfs_progress_left(fdev, req->q, start);
		if (left <= 0)
			return completion_done(&req->done);
		left = wait_for_completion_killable_timeout(&req->done, left);
		if (left)
			return left;
	}
}

/* Sets the header and hands @req to the device; does not wait. */
static int famfs_req_submit(struct famfs_vdev *fdev, struct famfs_req *req,
			    u32 opcode, u64 nodeid)
{
	struct virtio_famfs_req_hdr *hdr = req->in;
	struct famfs_vq *q;
	int err;

	if (opcode >= VIRTIO_FAMFS_OP_INIT &&
	    opcode <= VIRTIO_FAMFS_OP_FORGET)
		famfs_stat_inc(fdev, FAMFS_STAT_REQ_INIT + opcode - 1);
	famfs_stat_inc(fdev, FAMFS_STAT_REQ_TOTAL);

	if (famfs_vdev_gone(fdev))
		return -ENODEV;
	req->unique = atomic64_inc_return(&fdev->unique);
	hdr->opcode = cpu_to_le32(opcode);
	hdr->len = cpu_to_le32(req->in_len);
	hdr->unique = cpu_to_le64(req->unique);
	hdr->nodeid = cpu_to_le64(nodeid);
	req->status = 0;
	req->used = 0;

	q = &fdev->rq[raw_smp_processor_id() % fdev->nr_rq];
	err = famfs_wait_slot(fdev, q);
	if (err)
		return err;
	err = famfs_vq_add(q, req);
	if (err)
		famfs_vq_put_slot(q);
	return err;
}

static void famfs_req_failed(struct famfs_vdev *fdev, u32 opcode, u64 nodeid,
			     int err)
{
	if (err && !famfs_expected_error(opcode, err)) {
		famfs_stat_inc(fdev, FAMFS_STAT_REQ_ERRORS);
		dev_dbg(fdev->dev, "%s: %s of node %llu failed: %d\n",
			fdev->tag, famfs_op_name(opcode), nodeid, err);
	}
}

/**
 * famfs_req_send - send a request and wait for its checked reply
 * @fdev: the device
 * @req: the request; its body is filled in, the header is set here
 * @opcode: VIRTIO_FAMFS_OP_*, not INIT (famfs_vdev_start() sends that)
 * @nodeid: the node the request is about, 0 if none
 * @min_reply: bytes the reply must hold after the response header
 *
 * Return: 0 with famfs_req_reply()/famfs_req_reply_len() valid; the device's
 * error as a negative errno (on -E2BIG the reply length is valid too); -EIO
 * for a broken device, a stalled queue or an invalid reply; -ENODEV once
 * the device is being removed; -EINTR if killed.
 */
int famfs_req_send(struct famfs_vdev *fdev, struct famfs_req *req,
		   u32 opcode, u64 nodeid, size_t min_reply)
{
	long left;
	int err;

	if (!famfs_vdev_ready(fdev)) {
		err = famfs_vdev_gone(fdev) ? -ENODEV : -EIO;
		goto out;
	}
	err = famfs_req_submit(fdev, req, opcode, nodeid);
	if (err)
		goto out;
	left = famfs_wait_reply(fdev, req);
	if (left < 0) {
		/* The device still owns the buffers; the queue frees them. */
		err = -EINTR;
		goto out;
	}
	if (!left) {
		famfs_vdev_break(fdev, "request timed out");
		err = -EIO;
		goto out;
	}
	err = req->status;
	if (!err)
		err = famfs_check_reply(fdev, req, opcode, req->unique,
					min_reply);
out:
	if (err == -EIO && famfs_vdev_gone(fdev))
		err = -ENODEV;
	famfs_req_failed(fdev, opcode, nodeid, err);
	return err;
}

/* Section 6.1: the INIT reply, once the device has given it. */
static int famfs_init_done(struct famfs_vdev *fdev, struct famfs_req *req)
{
	struct virtio_famfs_init_out *out;
	u64 root;
	int ret;

	ret = req->status;
	if (!ret)
		ret = famfs_check_reply(fdev, req, VIRTIO_FAMFS_OP_INIT,
					req->unique, sizeof(*out));
	if (ret)
		return ret;
	out = famfs_req_reply(req);
	if (le32_to_cpu(out->major) != VIRTIO_FAMFS_VERSION_MAJOR) {
		dev_err(fdev->dev, "%s: device speaks protocol %u.%u, driver %u.%u\n",
			fdev->tag, le32_to_cpu(out->major),
			le32_to_cpu(out->minor), VIRTIO_FAMFS_VERSION_MAJOR,
			VIRTIO_FAMFS_VERSION_MINOR);
		return -EPROTO;
	}
	root = le64_to_cpu(out->root_nodeid);
	if (!root)
		return famfs_bad_reply(fdev, VIRTIO_FAMFS_OP_INIT,
				       "root node id 0", 0, 0);
	fdev->root_nodeid = root;
	fdev->readdir_bytes = clamp(le32_to_cpu(out->max_readdir_bytes),
				    (u32)VIRTIO_FAMFS_MIN_READDIR_BYTES,
				    (u32)FAMFS_READDIR_BYTES);
	atomic64_set(&fdev->log_generation, le64_to_cpu(out->log_generation));
	/* Publishes the fields above: pairs with famfs_vdev_ready(). */
	smp_store_release(&fdev->ready, true);
	return 0;
}

/**
 * famfs_vdev_start - make sure INIT has succeeded on the device
 * @fdev: the device
 *
 * The device maps the window while it handles INIT; nothing may touch the
 * window before this returns 0. Called by mount, never by probe. An INIT
 * that is not answered within the timeout stays with the device (spec
 * 6.1 allows one outstanding INIT): the next call waits for it again
 * rather than sending another, so a slow device can still come up.
 *
 * Return: 0; -ETIMEDOUT if the device did not answer in time; -EINTR if
 * killed; -ENODEV if removed; another negative errno if INIT failed.
 */
int famfs_vdev_start(struct famfs_vdev *fdev)
{
	struct virtio_famfs_init_in *in;
	struct famfs_req *req;
	long left;
	int ret;

	if (famfs_vdev_ready(fdev))
		return 0;
	if (mutex_lock_killable(&fdev->init_lock))
		return -EINTR;
	ret = 0;
	if (fdev->ready)
		goto out_unlock;
	ret = -ENODEV;
	if (famfs_vdev_gone(fdev))
		goto out_unlock;
	ret = -EIO;
	if (READ_ONCE(fdev->broken))
		goto out_unlock;

	req = fdev->init_req;
	if (!req) {
		ret = -ENOMEM;
		req = famfs_req_alloc(sizeof(*in),
				      sizeof(struct virtio_famfs_init_out));
		if (!req)
			goto out_unlock;
		in = famfs_req_body(req);
		in->major = cpu_to_le32(VIRTIO_FAMFS_VERSION_MAJOR);
		in->minor = cpu_to_le32(VIRTIO_FAMFS_VERSION_MINOR);
		ret = famfs_req_submit(fdev, req, VIRTIO_FAMFS_OP_INIT, 0);
		if (ret) {
			famfs_req_put(req);
			goto out_failed;
		}
		fdev->init_req = req;
	}

	left = famfs_wait_reply(fdev, req);
	if (left < 0) {
		ret = -EINTR;
		goto out_failed;
	}
	if (!left) {
		dev_warn(fdev->dev, "%s: no reply to INIT in %ld s; the next mount waits for it again\n",
			 fdev->tag, famfs_timeout(fdev) / HZ);
		ret = -ETIMEDOUT;
		goto out_failed;
	}
	fdev->init_req = NULL;
	ret = famfs_init_done(fdev, req);
	famfs_req_put(req);
	if (ret == -EIO && famfs_vdev_gone(fdev))
		ret = -ENODEV;
out_failed:
	famfs_req_failed(fdev, VIRTIO_FAMFS_OP_INIT, 0, ret);
out_unlock:
	mutex_unlock(&fdev->init_lock);
	return ret;
}

/* ---- notifications ----------------------------------------------------- */

static int famfs_post_notify(struct famfs_vq *q, struct virtio_famfs_notify *buf)
{
	struct scatterlist sg;

	sg_init_one(&sg, buf, sizeof(*buf));
	return virtqueue_add_inbuf(q->vq, &sg, 1, buf, GFP_ATOMIC);
}

static void famfs_handle_notify(struct famfs_vdev *fdev,
				const struct virtio_famfs_notify *n,
				unsigned int len)
{
	u64 gen;

	if (len < sizeof(*n) ||
	    le32_to_cpu(n->type) != VIRTIO_FAMFS_NOTIFY_NAMESPACE_CHANGED) {
		dev_dbg(fdev->dev, "%s: ignoring notification (len %u)\n",
			fdev->tag, len);
		return;
	}
	gen = le64_to_cpu(n->log_generation);
	if (gen > atomic64_read(&fdev->log_generation))
		atomic64_set(&fdev->log_generation, gen);
	/* Negative dentries and directory listings compare against this. */
	atomic64_inc(&fdev->ns_seq);
	famfs_stat_inc(fdev, FAMFS_STAT_NOTIFICATIONS);
	dev_dbg(fdev->dev, "%s: namespace changed, log generation %llu\n",
		fdev->tag, gen);
}

static void famfs_notify_done(struct virtqueue *vq)
{
	struct famfs_vdev *fdev = vq->vdev->priv;
	struct famfs_vq *q = &fdev->notifyq;
	struct virtio_famfs_notify *buf, copy;
	unsigned long flags;
	unsigned int len;
	bool kick = false;

	spin_lock_irqsave(&q->lock, flags);
	do {
		virtqueue_disable_cb(vq);
		while ((buf = virtqueue_get_buf(vq, &len)) != NULL) {
			memcpy(&copy, buf, sizeof(copy));
			memset(buf, 0, sizeof(*buf));
			famfs_handle_notify(fdev, &copy, len);
			if (!fdev->broken && !famfs_post_notify(q, buf))
				kick = true;
		}
	} while (!virtqueue_enable_cb(vq));
	kick = kick && virtqueue_kick_prepare(vq);
	spin_unlock_irqrestore(&q->lock, flags);
	/* remove() resets the device, which waits for this callback. */
	if (kick)
		virtqueue_notify(vq);
}

static void famfs_post_notify_all(struct famfs_vdev *fdev)
{
	struct famfs_vq *q = &fdev->notifyq;
	unsigned long flags;
	unsigned int i;
	bool kick;

	if (!fdev->notify)
		return;
	spin_lock_irqsave(&q->lock, flags);
	for (i = 0; i < FAMFS_NOTIFY_BUFS; i++)
		if (famfs_post_notify(q, &fdev->notify_bufs[i]))
			break;
	kick = virtqueue_kick_prepare(q->vq);
	spin_unlock_irqrestore(&q->lock, flags);
	if (kick)
		virtqueue_notify(q->vq);
}

/* ---- the DAX window ---------------------------------------------------- */

/*
 * The window's pagemap, with what it learnt of memory failures. Freed
 * with the device's last reference (famfs_vdev_release()), after
 * memunmap_pages() has waited out any failure handler still running.
 */
struct famfs_window {
	struct dev_pagemap pgmap;
	struct famfs_vdev *fdev;	/* for messages */
	atomic_t failures;		/* memory failures seen in the window */
};

/*
 * Pages from @pfn on that hold no poison: @nr, or fewer, or -EHWPOISON if
 * the first one is poisoned (as pmem does with its bad blocks).
 */
static long famfs_window_good_pages(unsigned long pfn, long nr)
{
	long i;

	for (i = 0; i < nr; i++)
		if (PageHWPoison(pfn_to_page(pfn + i)))
			return i ? i : -EHWPOISON;
	return nr;
}

static long famfs_dax_direct_access(struct dax_device *dax_dev, pgoff_t pgoff,
				    long nr_pages, enum dax_access_mode mode,
				    void **kaddr, pfn_t *pfn)
{
	struct famfs_vdev *fdev = dax_get_private(dax_dev);
	phys_addr_t off = PFN_PHYS(pgoff);

	/* Section 5.1: no access before INIT, none to the metadata. */
	if (!famfs_vdev_ready(fdev))
		return -ENXIO;
	if (off < fdev->meta_size || off >= fdev->window_len)
		return -ERANGE;
	nr_pages = min_t(long, nr_pages, PHYS_PFN(fdev->window_len - off));
	/*
	 * Poisoned memory cannot be repaired from the guest: no recovery
	 * write either, so writes over poison fail with EIO like reads.
	 */
	if (unlikely(atomic_read(&fdev->window->failures))) {
		nr_pages = famfs_window_good_pages(PHYS_PFN(fdev->window_phys +
							    off), nr_pages);
		if (nr_pages < 0)
			return nr_pages;
	}
	if (kaddr)
		*kaddr = fdev->window_kaddr + off;
	if (pfn)
		*pfn = phys_to_pfn_t(fdev->window_phys + off, PFN_DEV | PFN_MAP);
	return nr_pages;
}

static int famfs_dax_zero_page_range(struct dax_device *dax_dev, pgoff_t pgoff,
				     size_t nr_pages)
{
	void *kaddr;
	long rc;

	rc = dax_direct_access(dax_dev, pgoff, nr_pages, DAX_ACCESS, &kaddr,
			       NULL);
	if (rc < 0)
		return dax_mem2blk_err(rc);
	if (rc < nr_pages)
		return -EIO;
	memset(kaddr, 0, nr_pages << PAGE_SHIFT);
	dax_flush(dax_dev, kaddr, nr_pages << PAGE_SHIFT);
	return 0;
}

static const struct dax_operations famfs_dax_ops = {
	.direct_access = famfs_dax_direct_access,
	.zero_page_range = famfs_dax_zero_page_range,
};

/*
 * A memory failure (machine check, CXL poison, or injected) in the window:
 * remember the page, so that direct_access keeps read(2), write(2) and new
 * faults away from it (EIO, SIGBUS), then let the generic handler unmap it
 * from every process that maps it and send those SIGBUS (-EOPNOTSUPP asks
 * for that handler).
 */
static int famfs_window_memory_failure(struct dev_pagemap *pgmap,
				       unsigned long pfn,
				       unsigned long nr_pages, int mf_flags)
{
	struct famfs_window *win = container_of(pgmap, struct famfs_window,
						pgmap);
	unsigned long i;

	for (i = 0; i < nr_pages; i++)
		SetPageHWPoison(pfn_to_page(pfn + i));
	/* An access racing with this sees the page as it was a moment ago. */
	atomic_inc(&win->failures);
	dev_err_ratelimited(win->fdev->dev, "%s: memory failure at window offset %#llx (%lu pages): reads there fail with EIO, mappings get SIGBUS\n",
			    win->fdev->tag, PFN_PHYS(pfn) - pgmap->range.start,
			    nr_pages);
	return -EOPNOTSUPP;
}

static const struct dev_pagemap_ops famfs_window_pgmap_ops = {
	.memory_failure	= famfs_window_memory_failure,
};

static int famfs_setup_window(struct famfs_vdev *fdev)
{
	struct virtio_device *vdev = fdev->vdev;
	struct virtio_shm_region reg;
	struct famfs_window *win;
	struct dev_pagemap *pgmap;
	struct dax_device *dax_dev;
	void *kaddr;
	u64 len;

	if (fdev->cfg_flags & VIRTIO_FAMFS_CFG_F_NO_WINDOW) {
		fdev->no_window = "the VMM provides no shared memory window";
		return 0;
	}
	if (!virtio_get_shm_region(vdev, &reg, VIRTIO_FAMFS_SHM_WINDOW)) {
		fdev->no_window = "shared memory region 0 is missing";
		return 0;
	}
	if (reg.len < fdev->device_size) {
		fdev->no_window = "shared memory region 0 is shorter than the device";
		return 0;
	}
	/* memremap_pages() works in 2 MiB subsections; PMDs need it too. */
	len = ALIGN_DOWN(fdev->device_size, SZ_2M);
	if (!IS_ALIGNED(reg.addr, SZ_2M) || len <= fdev->meta_size) {
		fdev->no_window = "shared memory region 0 is not 2 MiB aligned";
		return 0;
	}

	dax_dev = alloc_dax(fdev, &famfs_dax_ops);
	if (IS_ERR(dax_dev)) {
		if (PTR_ERR(dax_dev) != -EOPNOTSUPP)
			return PTR_ERR(dax_dev);
		fdev->no_window = "this kernel has no DAX support";
		return 0;
	}
	fdev->dax_dev = dax_dev;	/* put_dax() in famfs_vdev_release() */
	/* write(2) writes back its data (spec section 8). */
	set_dax_nocache(dax_dev);
	/* read(2) survives poison: machine-check-safe copies, as pmem. */
	set_dax_nomc(dax_dev);
	/* fsync() and msync() write back what mappings dirtied (section 8). */
	dax_write_cache(dax_dev, true);

	if (!devm_request_mem_region(&vdev->dev, reg.addr, len,
				     dev_name(&vdev->dev))) {
		dev_err(&vdev->dev, "cannot reserve window %#llx+%#llx\n",
			reg.addr, len);
		return -EBUSY;
	}

	/*
	 * Not devm: the struct pages must outlive the virtio device as long
	 * as a mounted super block can reach them (famfs_vdev_release()).
	 */
	win = kzalloc(sizeof(*win), GFP_KERNEL);
	if (!win)
		return -ENOMEM;
	win->fdev = fdev;
	pgmap = &win->pgmap;
	pgmap->type = MEMORY_DEVICE_FS_DAX;
	pgmap->ops = &famfs_window_pgmap_ops;
	/* Only the device, not the power-of-two padding after it. */
	pgmap->range = (struct range) {
		.start = reg.addr,
		.end = reg.addr + len - 1,
	};
	pgmap->nr_range = 1;
	kaddr = memremap_pages(pgmap, dev_to_node(&vdev->dev));
	if (IS_ERR(kaddr)) {
		kfree(win);
		return PTR_ERR(kaddr);
	}
	fdev->window = win;
	fdev->window_kaddr = kaddr;
	fdev->window_phys = reg.addr;
	fdev->window_len = len;
	return 0;
}

/* ---- probe and remove -------------------------------------------------- */

static void famfs_vdev_release(struct kref *kref)
{
	struct famfs_vdev *fdev = container_of(kref, struct famfs_vdev, kref);

	/* No super block is left: no mapping, no DAX entry, no I/O. */
	if (fdev->dax_dev) {
		/* Already killed unless probe failed half-way. */
		kill_dax(fdev->dax_dev);
		put_dax(fdev->dax_dev);
	}
	if (fdev->window) {
		memunmap_pages(&fdev->window->pgmap);
		kfree(fdev->window);
	}
	famfs_req_put(fdev->init_req);
	famfs_forget_free(fdev);
	free_percpu(fdev->stats);
	put_device(fdev->dev);
	kfree(fdev->notify_bufs);
	kfree(fdev->rq);
	kfree(fdev);
}

/**
 * famfs_vdev_put - drop a reference to a device
 * @fdev: the device
 */
void famfs_vdev_put(struct famfs_vdev *fdev)
{
	kref_put(&fdev->kref, famfs_vdev_release);
}

/**
 * famfs_vdev_get_by_tag - find a device by its tag
 * @tag: the tag, as given to mount
 *
 * Return: the device with a reference held, or NULL.
 */
struct famfs_vdev *famfs_vdev_get_by_tag(const char *tag)
{
	struct famfs_vdev *fdev, *found = NULL;

	mutex_lock(&famfs_devices_lock);
	list_for_each_entry(fdev, &famfs_devices, list) {
		if (!strcmp(fdev->tag, tag)) {
			kref_get(&fdev->kref);
			found = fdev;
			break;
		}
	}
	mutex_unlock(&famfs_devices_lock);
	return found;
}

static int famfs_register_tag(struct famfs_vdev *fdev)
{
	struct famfs_vdev *other;
	int ret = 0;

	mutex_lock(&famfs_devices_lock);
	list_for_each_entry(other, &famfs_devices, list) {
		if (!strcmp(other->tag, fdev->tag)) {
			ret = -EEXIST;
			break;
		}
	}
	if (!ret)
		list_add_tail(&fdev->list, &famfs_devices);
	mutex_unlock(&famfs_devices_lock);
	return ret;
}

static int famfs_config_error(struct famfs_vdev *fdev, const char *why)
{
	dev_err(&fdev->vdev->dev, "invalid configuration: %s\n", why);
	return -EINVAL;
}

/* Section 4.1: read and check the configuration. */
static int famfs_read_config(struct famfs_vdev *fdev)
{
	struct virtio_device *vdev = fdev->vdev;
	u8 tag[VIRTIO_FAMFS_TAG_SIZE];
	u32 nrq, version;
	size_t i, len;

	virtio_cread_bytes(vdev, offsetof(struct virtio_famfs_config, tag),
			   tag, sizeof(tag));
	len = strnlen(tag, sizeof(tag));
	if (!len)
		return famfs_config_error(fdev, "empty tag");
	for (i = 0; i < len; i++)
		if (tag[i] < 0x20 || tag[i] == 0x7f)
			return famfs_config_error(fdev, "control character in tag");
	memcpy(fdev->tag, tag, len);
	fdev->tag[len] = '\0';

	virtio_cread_le(vdev, struct virtio_famfs_config, num_request_queues,
			&nrq);
	virtio_cread_le(vdev, struct virtio_famfs_config, flags,
			&fdev->cfg_flags);
	virtio_cread_bytes(vdev, offsetof(struct virtio_famfs_config, fs_uuid),
			   fdev->fs_uuid, sizeof(fdev->fs_uuid));
	virtio_cread_le(vdev, struct virtio_famfs_config, device_size,
			&fdev->device_size);
	virtio_cread_le(vdev, struct virtio_famfs_config, alloc_unit,
			&fdev->alloc_unit);
	virtio_cread_le(vdev, struct virtio_famfs_config, meta_size,
			&fdev->meta_size);
	virtio_cread_le(vdev, struct virtio_famfs_config, max_extents,
			&fdev->max_extents);
	virtio_cread_le(vdev, struct virtio_famfs_config, version, &version);

	if (version >> 16 != VIRTIO_FAMFS_VERSION_MAJOR)
		return famfs_config_error(fdev, "unsupported protocol version");
	if (!nrq)
		return famfs_config_error(fdev, "no request queues");
	if (!is_power_of_2(fdev->alloc_unit) || fdev->alloc_unit < SZ_4K ||
	    fdev->alloc_unit > SZ_2G)
		return famfs_config_error(fdev, "bad alloc_unit");
	if (!fdev->meta_size || fdev->meta_size % fdev->alloc_unit ||
	    fdev->meta_size >= fdev->device_size)
		return famfs_config_error(fdev, "bad meta_size");
	if (fdev->max_extents < VIRTIO_FAMFS_MIN_MAX_EXTENTS)
		return famfs_config_error(fdev, "max_extents below 16");
	if ((fdev->cfg_flags & VIRTIO_FAMFS_CFG_F_READ_ONLY) &&
	    (fdev->cfg_flags & VIRTIO_FAMFS_CFG_F_MAY_CREATE))
		return famfs_config_error(fdev, "MAY_CREATE with READ_ONLY");

	fdev->nr_rq = min3(nrq, (u32)FAMFS_MAX_RQ, num_possible_cpus());
	fdev->notify = virtio_has_feature(vdev, VIRTIO_FAMFS_F_NOTIFY);
	fdev->interleave = virtio_has_feature(vdev, VIRTIO_FAMFS_F_INTERLEAVE);
	fdev->readdirplus = virtio_has_feature(vdev, VIRTIO_FAMFS_F_READDIRPLUS);
	fdev->entry_fmap = virtio_has_feature(vdev, VIRTIO_FAMFS_F_ENTRY_FMAP);
	return 0;
}

static void famfs_vq_init(struct famfs_vq *q, struct famfs_vdev *fdev,
			  const char *name, unsigned int n)
{
	q->fdev = fdev;
	spin_lock_init(&q->lock);
	INIT_LIST_HEAD(&q->inflight);
	init_waitqueue_head(&q->slot_wait);
	q->progress = jiffies;
	if (n)
		snprintf(q->name, sizeof(q->name), "%s%u", name, n);
	else
		strscpy(q->name, name, sizeof(q->name));
}

static int famfs_find_vqs(struct famfs_vdev *fdev)
{
	unsigned int nvqs = 1 + fdev->nr_rq, i;
	struct virtqueue_info *info;
	struct virtqueue **vqs;
	int ret = -ENOMEM;

	info = kcalloc(nvqs, sizeof(*info), GFP_KERNEL);
	vqs = kcalloc(nvqs, sizeof(*vqs), GFP_KERNEL);
	if (!info || !vqs)
		goto out;

	famfs_vq_init(&fdev->notifyq, fdev, "notifyq", 0);
	info[0].name = fdev->notifyq.name;
	info[0].callback = famfs_notify_done;
	for (i = 0; i < fdev->nr_rq; i++) {
		famfs_vq_init(&fdev->rq[i], fdev, "requestq", i + 1);
		info[i + 1].name = fdev->rq[i].name;
		info[i + 1].callback = famfs_rq_done;
	}

	ret = virtio_find_vqs(fdev->vdev, nvqs, vqs, info, NULL);
	if (ret)
		goto out;

	fdev->notifyq.vq = vqs[VIRTIO_FAMFS_VQ_NOTIFY];
	for (i = 0; i < fdev->nr_rq; i++) {
		struct famfs_vq *q = &fdev->rq[i];

		q->vq = vqs[VIRTIO_FAMFS_VQ_REQUEST_BASE + i];
		/* Two descriptors per request unless indirect ones are used. */
		atomic_set(&q->slots,
			   max(1U, virtqueue_get_vring_size(q->vq) / 2));
	}
out:
	kfree(vqs);
	kfree(info);
	return ret;
}

static int famfs_setup_vqs(struct famfs_vdev *fdev)
{
	int ret;

	fdev->rq = kcalloc(fdev->nr_rq, sizeof(*fdev->rq), GFP_KERNEL);
	fdev->notify_bufs = kcalloc(FAMFS_NOTIFY_BUFS,
				    sizeof(*fdev->notify_bufs), GFP_KERNEL);
	if (!fdev->rq || !fdev->notify_bufs)
		return -ENOMEM;

	ret = famfs_find_vqs(fdev);
	if (ret && fdev->nr_rq > 1) {
		/* The transport may offer fewer queues than the config says. */
		fdev->nr_rq = 1;
		ret = famfs_find_vqs(fdev);
	}
	return ret;
}

/* After reset: give back every buffer the device still held. */
static void famfs_drain_vqs(struct famfs_vdev *fdev)
{
	struct famfs_req *req;
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < fdev->nr_rq; i++) {
		struct famfs_vq *q = &fdev->rq[i];

		while ((req = virtqueue_detach_unused_buf(q->vq)) != NULL) {
			spin_lock_irqsave(&q->lock, flags);
			list_del_init(&req->list);
			spin_unlock_irqrestore(&q->lock, flags);
			req->status = -EIO;
			complete(&req->done);
			famfs_req_put(req);
		}
	}
	while (virtqueue_detach_unused_buf(fdev->notifyq.vq))
		;
}

static int famfs_stats_show(struct seq_file *m, void *v)
{
	struct famfs_vdev *fdev = m->private;
	int i, cpu;
	u64 sum;

	for (i = 0; i < FAMFS_STAT_NR; i++) {
		sum = 0;
		for_each_possible_cpu(cpu)
			sum += per_cpu_ptr(fdev->stats, cpu)->v[i];
		seq_printf(m, "%s %llu\n", famfs_stat_names[i], sum);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(famfs_stats);

static void famfs_debugfs_add(struct famfs_vdev *fdev)
{
	char name[sizeof(fdev->tag)];

	strscpy(name, fdev->tag, sizeof(name));
	strreplace(name, '/', '_');
	fdev->debugfs = debugfs_create_dir(name, famfs_debugfs_root);
	debugfs_create_file("stats", 0444, fdev->debugfs, fdev,
			    &famfs_stats_fops);
}

static int famfs_probe(struct virtio_device *vdev)
{
	struct famfs_vdev *fdev;
	u32 magic;
	int ret;

	if (!virtio_has_feature(vdev, VIRTIO_F_VERSION_1)) {
		dev_err(&vdev->dev, "device does not offer VIRTIO_F_VERSION_1\n");
		return -ENODEV;
	}
	/* A stand-in ID is not ours alone: the magic tells famfs apart. */
	virtio_cread_le(vdev, struct virtio_famfs_config, magic, &magic);
	if (magic != VIRTIO_FAMFS_MAGIC) {
		dev_info(&vdev->dev, "not a virtio-famfs device (magic %#x)\n",
			 magic);
		return -ENODEV;
	}

	fdev = kzalloc(sizeof(*fdev), GFP_KERNEL);
	if (!fdev)
		return -ENOMEM;
	fdev->stats = alloc_percpu(struct famfs_stats);
	if (!fdev->stats) {
		kfree(fdev);
		return -ENOMEM;
	}
	kref_init(&fdev->kref);
	INIT_LIST_HEAD(&fdev->list);
	mutex_init(&fdev->init_lock);
	mutex_init(&fdev->sb_lock);
	INIT_LIST_HEAD(&fdev->sbs);
	fdev->vdev = vdev;
	fdev->dev = get_device(&vdev->dev);
	vdev->priv = fdev;

	ret = famfs_read_config(fdev);
	if (ret)
		goto out_free;
	ret = famfs_forget_init(fdev);
	if (ret)
		goto out_free;
	ret = famfs_setup_vqs(fdev);
	if (ret)
		goto out_free;
	ret = famfs_setup_window(fdev);
	if (ret)
		goto out_vqs;

	virtio_device_ready(vdev);
	famfs_post_notify_all(fdev);

	ret = famfs_register_tag(fdev);
	if (ret) {
		dev_err(&vdev->dev, "tag \"%s\" is already in use\n", fdev->tag);
		goto out_reset;
	}
	famfs_debugfs_add(fdev);

	if (fdev->no_window) {
		dev_warn(&vdev->dev, "%s: %s; mount with -o pmem=DEVICE if the VM has the memory as a pmem device\n",
			 fdev->tag, fdev->no_window);
		return 0;
	}
	/* No I/O here: the first mount sends INIT (spec section 6). */
	dev_info(&vdev->dev, "%s: %llu MiB, %u request queue(s)%s%s\n",
		 fdev->tag, fdev->device_size >> 20, fdev->nr_rq,
		 famfs_vdev_read_only(fdev) ? ", read-only" : "",
		 famfs_vdev_may_create(fdev) ? ", may create" : "");
	return 0;

out_reset:
	virtio_reset_device(vdev);
	famfs_vdev_break(fdev, NULL);
	famfs_drain_vqs(fdev);
out_vqs:
	vdev->config->del_vqs(vdev);
out_free:
	vdev->priv = NULL;
	fdev->vdev = NULL;
	famfs_vdev_put(fdev);
	return ret;
}

/**
 * famfs_vdev_add_sb - list a super block that uses the device
 * @fdev: the device
 * @sb: the super block, whose s_fs_info is a famfs_sb_info
 */
void famfs_vdev_add_sb(struct famfs_vdev *fdev, struct super_block *sb)
{
	mutex_lock(&fdev->sb_lock);
	list_add_tail(&FAMFS_SB(sb)->node, &fdev->sbs);
	mutex_unlock(&fdev->sb_lock);
}

/**
 * famfs_vdev_del_sb - forget a super block before it is shut down
 * @fdev: the device
 * @sb: a super block listed by famfs_vdev_add_sb()
 *
 * Waits for a removal that is cutting @sb off to finish with it.
 */
void famfs_vdev_del_sb(struct famfs_vdev *fdev, struct super_block *sb)
{
	mutex_lock(&fdev->sb_lock);
	list_del_init(&FAMFS_SB(sb)->node);
	mutex_unlock(&fdev->sb_lock);
}

/*
 * Before the window goes: no mapping, DAX entry or I/O of any mounted
 * file may reach it. The super blocks stay mounted, and dead.
 */
static void famfs_vdev_shutdown_sbs(struct famfs_vdev *fdev)
{
	struct famfs_sb_info *sbi;

	mutex_lock(&fdev->sb_lock);
	list_for_each_entry(sbi, &fdev->sbs, node) {
		dev_warn(fdev->dev, "%s: removed while mounted; files now fail with ENODEV or SIGBUS\n",
			 fdev->tag);
		famfs_sb_shutdown(sbi->sb);
	}
	mutex_unlock(&fdev->sb_lock);
}

static void famfs_remove(struct virtio_device *vdev)
{
	struct famfs_vdev *fdev = vdev->priv;
	unsigned int i;

	mutex_lock(&famfs_devices_lock);
	list_del_init(&fdev->list);
	mutex_unlock(&famfs_devices_lock);
	debugfs_remove_recursive(fdev->debugfs);
	fdev->debugfs = NULL;

	/* Every new access fails from here on; pending requests fail now. */
	WRITE_ONCE(fdev->removed, true);
	famfs_vdev_break(fdev, NULL);
	famfs_forget_stop(fdev);
	for (i = 0; i < fdev->nr_rq; i++)
		wait_event(fdev->rq[i].slot_wait,
			   !atomic_read(&fdev->rq[i].kicking));
	/* Waits for every DAX access under way; later ones fail. */
	kill_dax(fdev->dax_dev);
	famfs_vdev_shutdown_sbs(fdev);

	virtio_reset_device(vdev);
	famfs_drain_vqs(fdev);
	vdev->config->del_vqs(vdev);

	vdev->priv = NULL;
	fdev->vdev = NULL;
	famfs_vdev_put(fdev);
}

#ifdef CONFIG_PM_SLEEP
static int famfs_freeze(struct virtio_device *vdev)
{
	return -EOPNOTSUPP;
}

static int famfs_restore(struct virtio_device *vdev)
{
	return 0;
}
#endif

/* Entry 1 becomes the device_id parameter before the driver registers. */
static struct virtio_device_id famfs_id_table[] = {
	{ VIRTIO_ID_FAMFS, VIRTIO_DEV_ANY_ID },
	{ VIRTIO_ID_FAMFS_COMPAT, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, famfs_id_table);

static const unsigned int famfs_features[] = {
	VIRTIO_FAMFS_F_NOTIFY,
	VIRTIO_FAMFS_F_INTERLEAVE,
	VIRTIO_FAMFS_F_READDIRPLUS,
	VIRTIO_FAMFS_F_ENTRY_FMAP,
	VIRTIO_FAMFS_F_FORGET,
};

/* Runs before FEATURES_OK: drops what the module parameters turn off. */
static int famfs_validate(struct virtio_device *vdev)
{
	if (!readdirplus)
		__virtio_clear_bit(vdev, VIRTIO_FAMFS_F_READDIRPLUS);
	if (!entry_fmap)
		__virtio_clear_bit(vdev, VIRTIO_FAMFS_F_ENTRY_FMAP);
	return 0;
}

static struct virtio_driver famfs_virtio_driver = {
	.driver.name		= KBUILD_MODNAME,
	.id_table		= famfs_id_table,
	.feature_table		= famfs_features,
	.feature_table_size	= ARRAY_SIZE(famfs_features),
	.validate		= famfs_validate,
	.probe			= famfs_probe,
	.remove			= famfs_remove,
#ifdef CONFIG_PM_SLEEP
	.freeze			= famfs_freeze,
	.restore		= famfs_restore,
#endif
};

/**
 * famfs_vio_init - register the virtio driver
 *
 * Return: 0 or a negative errno.
 */
int famfs_vio_init(void)
{
	int ret;

	/* 0 would end the table; the virtio core matches 32-bit IDs. */
	if (!device_id) {
		pr_err("%s: device_id must not be 0\n", KBUILD_MODNAME);
		return -EINVAL;
	}
	famfs_id_table[1].device = device_id;
	famfs_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	ret = register_virtio_driver(&famfs_virtio_driver);
	if (ret)
		debugfs_remove_recursive(famfs_debugfs_root);
	return ret;
}

/**
 * famfs_vio_exit - unregister the virtio driver
 */
void famfs_vio_exit(void)
{
	unregister_virtio_driver(&famfs_virtio_driver);
	debugfs_remove_recursive(famfs_debugfs_root);
}
