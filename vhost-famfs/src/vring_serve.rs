// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Serving a request virtqueue: the loop both vhost-user backends
//! (virtio-famfs and virtio-fs) run on their worker threads. What a chain
//! means is the caller's; this module only moves chains and used lengths.

use std::io;

use vhost_user_backend::{VringRwLock, VringT};
use virtio_queue::{DescriptorChain, QueueOwnedT};
use vm_memory::{GuestAddressSpace, GuestMemoryAtomic, GuestMemoryLoadGuard, GuestMemoryMmap};
use vmm_sys_util::event::{
    new_event_consumer_and_notifier, EventConsumer, EventFlag, EventNotifier,
};

pub type Mem = GuestMemoryAtomic<GuestMemoryMmap>;
pub type Chain = DescriptorChain<GuestMemoryLoadGuard<GuestMemoryMmap>>;

/// Serves every available chain of `vring` with `serve`, which returns
/// the bytes it wrote (the used length). With EVENT_IDX, notifications
/// stay off while draining and the queue is checked once more after
/// turning them back on, so a request posted meanwhile is not missed.
pub fn process_queue(
    vring: &VringRwLock,
    mem: &Mem,
    event_idx: bool,
    mut serve: impl FnMut(Chain) -> u32,
) -> io::Result<()> {
    loop {
        if event_idx {
            vring.disable_notification().map_err(io::Error::other)?;
        }
        drain(vring, mem, &mut serve)?;
        if !event_idx || !vring.enable_notification().map_err(io::Error::other)? {
            break;
        }
    }
    Ok(())
}

fn drain(vring: &VringRwLock, mem: &Mem, serve: &mut impl FnMut(Chain) -> u32) -> io::Result<()> {
    let chains: Vec<_> = vring
        .get_mut()
        .get_queue_mut()
        .iter(mem.memory())
        .map_err(io::Error::other)?
        .collect();
    for chain in chains {
        let head = chain.head_index();
        let used = serve(chain);
        vring.add_used(head, used).map_err(io::Error::other)?;
    }
    if vring.needs_notification().map_err(io::Error::other)? {
        vring.signal_used_queue()?;
    }
    Ok(())
}

/// One worker thread per queue: the `queues_per_thread` masks of a
/// backend whose every queue has a worker of its own.
pub fn one_queue_per_thread(queues: usize) -> Vec<u64> {
    (0..queues).map(|q| 1u64 << q).collect()
}

/// The exit events of a backend's worker threads, one per worker.
pub struct WorkerExits(Vec<(EventConsumer, EventNotifier)>);

impl WorkerExits {
    pub fn new(workers: usize) -> io::Result<Self> {
        (0..workers)
            .map(|_| new_event_consumer_and_notifier(EventFlag::NONBLOCK))
            .collect::<io::Result<_>>()
            .map(WorkerExits)
    }

    /// Worker `thread`'s exit event (`VhostUserBackend::exit_event`).
    pub fn for_thread(&self, thread: usize) -> Option<(EventConsumer, EventNotifier)> {
        let (c, n) = self.0.get(thread)?;
        Some((c.try_clone().ok()?, n.try_clone().ok()?))
    }

    /// Asks every worker to exit.
    pub fn notify_all(&self) {
        for (_, n) in &self.0 {
            let _ = n.notify();
        }
    }
}
