// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-famfs guest driver: FORGET (VIRTIO_FAMFS_F_FORGET).
 *
 * When an inode whose map was fetched is evicted, its node id is queued;
 * a work item sends the queue to the device in FORGET requests of at most
 * VIRTIO_FAMFS_FORGET_MAX ids, from process context. Eviction may run in
 * reclaim: it only takes a spinlock, never allocates or waits. A device
 * with an isolated window unmaps a forgotten file's memory, so the driver
 * fetches the map again (GET_FMAP) before it touches that file again, and
 * a GET_FMAP never overtakes the FORGET of the same node (spec 5.3.1).
 */

#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/workqueue.h>

#include "famfs.h"

/* Node ids waiting to be sent: far above the device's mapping bound. */
#define FAMFS_FORGET_QUEUE	4096

struct famfs_forget {
	struct famfs_vdev *fdev;
	struct work_struct work;
	struct mutex send_lock;		/* a batch taken and not yet answered */
	spinlock_t lock;		/* nr, ids, dead */
	bool dead;			/* device removed: queue nothing */
	u32 nr;
	unsigned long dropped;		/* ids lost to a full queue */
	u64 ids[FAMFS_FORGET_QUEUE];
};

/* Sends one batch; false when there is nothing (more) to send. */
static bool famfs_forget_batch(struct famfs_forget *fq)
{
	struct famfs_vdev *fdev = fq->fdev;
	struct virtio_famfs_forget_in *in;
	struct famfs_req *req;
	__le64 *ids;
	u32 i, n;
	int err;

	req = famfs_req_alloc(sizeof(*in) +
			      VIRTIO_FAMFS_FORGET_MAX * sizeof(__le64), 0);
	if (!req)
		return false;	/* retried at the next eviction */
	in = famfs_req_body(req);
	ids = (__le64 *)(in + 1);

	mutex_lock(&fq->send_lock);
	spin_lock(&fq->lock);
	n = min_t(u32, fq->nr, VIRTIO_FAMFS_FORGET_MAX);
	for (i = 0; i < n; i++)
		ids[i] = cpu_to_le64(fq->ids[fq->nr - n + i]);
	fq->nr -= n;
	spin_unlock(&fq->lock);
	if (n) {
		in->count = cpu_to_le32(n);
		req->in_len = sizeof(struct virtio_famfs_req_hdr) +
			      sizeof(*in) + n * sizeof(__le64);
		err = famfs_req_send(fdev, req, VIRTIO_FAMFS_OP_FORGET, 0, 0);
		if (err == -ENODEV || err == -EIO) {
			/* Gone or broken: nothing it maps matters any more. */
			spin_lock(&fq->lock);
			fq->nr = 0;
			spin_unlock(&fq->lock);
			n = 0;
		} else if (err) {
			dev_warn_ratelimited(fdev->dev, "%s: FORGET failed: %d\n",
					     fdev->tag, err);
		}
	}
	mutex_unlock(&fq->send_lock);
	famfs_req_put(req);
	return n;
}

static void famfs_forget_work(struct work_struct *work)
{
	struct famfs_forget *fq = container_of(work, struct famfs_forget, work);

	while (famfs_forget_batch(fq))
		cond_resched();
}

/**
 * famfs_forget_init - set up the FORGET queue if the feature was negotiated
 * @fdev: the device, being probed
 *
 * Return: 0 or -ENOMEM.
 */
int famfs_forget_init(struct famfs_vdev *fdev)
{
	struct famfs_forget *fq;

	if (!virtio_has_feature(fdev->vdev, VIRTIO_FAMFS_F_FORGET))
		return 0;
	fq = kvzalloc(sizeof(*fq), GFP_KERNEL);
	if (!fq)
		return -ENOMEM;
	fq->fdev = fdev;
	INIT_WORK(&fq->work, famfs_forget_work);
	mutex_init(&fq->send_lock);
	spin_lock_init(&fq->lock);
	fdev->forget = fq;
	return 0;
}

/**
 * famfs_forget_queue - queue a node the driver no longer holds
 * @fdev: the device
 * @nodeid: the node of an evicted inode whose map was fetched
 *
 * Never blocks: called from eviction, which may run in reclaim.
 */
void famfs_forget_queue(struct famfs_vdev *fdev, u64 nodeid)
{
	struct famfs_forget *fq = fdev->forget;
	bool lost = false;

	if (!fq)
		return;
	spin_lock(&fq->lock);
	if (!fq->dead) {
		if (fq->nr < FAMFS_FORGET_QUEUE)
			fq->ids[fq->nr++] = nodeid;
		else
			lost = !fq->dropped++;
		/* Under the lock: famfs_forget_stop() cancels after it. */
		schedule_work(&fq->work);
	}
	spin_unlock(&fq->lock);
	if (lost)
		dev_warn(fdev->dev, "%s: FORGET queue full; the device keeps some files mapped until unmount\n",
			 fdev->tag);
}

/**
 * famfs_forget_cancel - make sure no FORGET of a node is pending
 * @fdev: the device
 * @nodeid: the node whose map is about to be fetched
 *
 * A FORGET sent after the new GET_FMAP would unmap the file under the new
 * inode: drop the node from the queue, and wait for a batch on its way.
 *
 * Return: 0, or -EINTR if killed while waiting.
 */
int famfs_forget_cancel(struct famfs_vdev *fdev, u64 nodeid)
{
	struct famfs_forget *fq = fdev->forget;
	u32 i;

	if (!fq)
		return 0;
	if (mutex_lock_killable(&fq->send_lock))
		return -EINTR;
	spin_lock(&fq->lock);
	for (i = 0; i < fq->nr; ) {
		if (fq->ids[i] == nodeid)
			fq->ids[i] = fq->ids[--fq->nr];
		else
			i++;
	}
	spin_unlock(&fq->lock);
	mutex_unlock(&fq->send_lock);
	return 0;
}

/**
 * famfs_forget_flush - send what is queued and wait for it (unmount)
 * @fdev: the device
 */
void famfs_forget_flush(struct famfs_vdev *fdev)
{
	if (fdev->forget)
		flush_work(&fdev->forget->work);
}

/**
 * famfs_forget_stop - drop the queue of a device being removed
 * @fdev: the device; its requests already fail
 */
void famfs_forget_stop(struct famfs_vdev *fdev)
{
	struct famfs_forget *fq = fdev->forget;

	if (!fq)
		return;
	spin_lock(&fq->lock);
	fq->dead = true;
	fq->nr = 0;
	spin_unlock(&fq->lock);
	cancel_work_sync(&fq->work);
}

/**
 * famfs_forget_free - free the queue (device released)
 * @fdev: the device
 */
void famfs_forget_free(struct famfs_vdev *fdev)
{
	if (fdev->forget)
		cancel_work_sync(&fdev->forget->work);
	kvfree(fdev->forget);
	fdev->forget = NULL;
}
