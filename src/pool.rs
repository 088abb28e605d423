//! The library's worker threads: they run queued operations and every callback.
//!
//! One process-wide pool, started on first use. Callbacks run here — never inside `begin_*` —
//! so a host's callback always sees the token `begin_*` returned.

use once_cell::sync::Lazy;
use parking_lot::{Condvar, Mutex};
use std::cell::Cell;
use std::collections::VecDeque;

pub type Work = Box<dyn FnOnce() + Send + 'static>;

struct Pool {
    queue: Mutex<VecDeque<Work>>,
    ready: Condvar,
}

thread_local! {
    static ON_POOL_THREAD: Cell<bool> = const { Cell::new(false) };
}

static POOL: Lazy<Pool> = Lazy::new(|| {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .saturating_mul(2)
        .clamp(4, 16);
    for i in 0..threads {
        std::thread::Builder::new()
            .name(format!("smoothcache-{i}"))
            .spawn(worker)
            .expect("smoothcache: cannot start a worker thread");
    }
    Pool {
        queue: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
    }
});

fn worker() {
    ON_POOL_THREAD.with(|f| f.set(true));
    loop {
        let work = {
            let mut q = POOL.queue.lock();
            loop {
                if let Some(w) = q.pop_front() {
                    break w;
                }
                POOL.ready.wait(&mut q);
            }
        };
        // A panic in queued work must not kill the worker; the work itself reports it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    }
}

/// Queues work for a worker thread.
pub fn submit(work: Work) {
    POOL.queue.lock().push_back(work);
    POOL.ready.notify_one();
}

/// True on the library's own threads.
pub fn on_pool_thread() -> bool {
    ON_POOL_THREAD.with(|f| f.get())
}
