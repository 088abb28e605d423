//! The wait-handle semantics of .NET's IAsyncResult, shared by every asynchronous operation.
//!
//! A `Completion` is one state behind a mutex and condvar: queued work, running, done (with its
//! outcome), or taken by `end_*`. Whoever waits for a queued operation runs it on its own thread
//! instead of waiting for a worker (no hop for the common begin-then-end pattern). An eventfd is
//! made on demand and written once at completion, so it stays readable. The callback runs exactly
//! once, after completion, on a library thread.

use crate::error::{Error, Result};
use crate::pool;
use parking_lot::{Condvar, Mutex};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Job<T> = Box<dyn FnOnce() -> Result<T> + Send + 'static>;

/// What runs once the operation has completed.
pub type Callback = Box<dyn FnOnce() + Send + 'static>;

enum Phase<T> {
    Queued(Job<T>),
    Running,
    Done(Result<T>),
    Taken,
}

struct State<T> {
    phase: Phase<T>,
    fd: Option<OwnedFd>,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    cond: Condvar,
    done: AtomicBool,
    /// Whether the work was handed to the pool (deferred work is handed over only when someone
    /// needs it to progress without waiting on it themselves).
    submitted: AtomicBool,
    synchronous: bool,
    callback: Mutex<Option<Callback>>,
}

/// The pollable completion of one operation.
pub struct Completion<T: Send + 'static> {
    shared: Arc<Shared<T>>,
}

impl<T: Send + 'static> Clone for Completion<T> {
    fn clone(&self) -> Self {
        Completion {
            shared: self.shared.clone(),
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// Runs `f`, turning a panic into `SSC_ERR_INTERNAL`.
pub fn catch<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(Error::internal(format!(
            "panic in {what}: {}",
            panic_message(p)
        ))),
    }
}

impl<T: Send + 'static> Completion<T> {
    /// An operation that finished inside `begin_*`.
    pub fn finished(outcome: Result<T>, callback: Option<Callback>) -> Completion<T> {
        let c = Completion::new(Phase::Done(outcome), true, callback);
        c.shared.done.store(true, Ordering::Release);
        // Even on a library thread (a callback that begins another operation), never inside
        // begin_*: the caller has not got its token yet.
        c.shared.fire_callback(false);
        c
    }

    /// An operation queued for a worker (or for whoever waits on it first).
    pub fn spawn(
        job: impl FnOnce() -> Result<T> + Send + 'static,
        callback: Option<Callback>,
    ) -> Completion<T> {
        let c = Completion::new(Phase::Queued(Box::new(job)), false, callback);
        c.submit();
        c
    }

    /// An operation with no effect beyond its outcome (a read): it is handed to a worker only
    /// when something needs it to progress — a callback, an fd, a poll or a timed wait — and is
    /// otherwise run by `end_*` on the caller's thread, sparing a thread hop per hit.
    pub fn deferred(
        job: impl FnOnce() -> Result<T> + Send + 'static,
        callback: Option<Callback>,
    ) -> Completion<T> {
        let has_callback = callback.is_some();
        let c = Completion::new(Phase::Queued(Box::new(job)), false, callback);
        if has_callback {
            c.submit();
        }
        c
    }

    /// An operation driven from elsewhere (a network task): it completes when the returned
    /// `Completer` is used, or with `SSC_ERR_INTERNAL` if the completer is dropped unused.
    pub fn external(callback: Option<Callback>) -> (Completion<T>, Completer<T>) {
        let c = Completion::new(Phase::Running, false, callback);
        c.shared.submitted.store(true, Ordering::Release);
        let completer = Completer {
            shared: Some(c.shared.clone()),
        };
        (c, completer)
    }

    fn submit(&self) {
        if !self.shared.submitted.swap(true, Ordering::AcqRel) {
            let shared = self.shared.clone();
            pool::submit(Box::new(move || shared.run_if_queued()));
        }
    }

    fn new(phase: Phase<T>, synchronous: bool, callback: Option<Callback>) -> Completion<T> {
        Completion {
            shared: Arc::new(Shared {
                state: Mutex::new(State { phase, fd: None }),
                cond: Condvar::new(),
                done: AtomicBool::new(false),
                submitted: AtomicBool::new(false),
                synchronous,
                callback: Mutex::new(callback),
            }),
        }
    }

    pub fn is_completed(&self) -> bool {
        let done = self.shared.done.load(Ordering::Acquire);
        if !done {
            self.submit();
        }
        done
    }

    fn done(&self) -> bool {
        self.shared.done.load(Ordering::Acquire)
    }

    pub fn completed_synchronously(&self) -> bool {
        self.shared.synchronous
    }

    /// Waits up to `timeout` (None: forever); true once completed. Waiting forever on work no
    /// worker has started runs it on this thread.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        if self.done() {
            return true;
        }
        match timeout {
            None => {
                self.shared.run_if_queued();
                let mut st = self.shared.state.lock();
                while !self.done() {
                    self.shared.cond.wait(&mut st);
                }
                true
            }
            Some(t) => {
                self.submit();
                let deadline = Instant::now().checked_add(t);
                let mut st = self.shared.state.lock();
                while !self.done() {
                    match deadline {
                        Some(d) => {
                            if self.shared.cond.wait_until(&mut st, d).timed_out() {
                                return self.done();
                            }
                        }
                        None => self.shared.cond.wait(&mut st),
                    }
                }
                true
            }
        }
    }

    /// Blocks until completed and takes the outcome (the `end_*` call). A second take is an error.
    pub fn take(&self) -> Result<T> {
        self.wait(None);
        let mut st = self.shared.state.lock();
        match std::mem::replace(&mut st.phase, Phase::Taken) {
            Phase::Done(outcome) => outcome,
            other => {
                st.phase = other;
                Err(Error::invalid("this operation has already been ended"))
            }
        }
    }

    /// A file descriptor that turns readable at completion and stays readable. Made on first call.
    pub fn fd(&self) -> Result<RawFd> {
        let mut st = self.shared.state.lock();
        if let Some(fd) = &st.fd {
            return Ok(fd.as_raw_fd());
        }
        let fd = new_eventfd()?;
        if self.shared.done.load(Ordering::Acquire) {
            signal(&fd);
        } else {
            self.submit();
        }
        let raw = fd.as_raw_fd();
        st.fd = Some(fd);
        Ok(raw)
    }
}

/// Completes an `external` completion, once.
pub struct Completer<T: Send + 'static> {
    shared: Option<Arc<Shared<T>>>,
}

impl<T: Send + 'static> Completer<T> {
    pub fn complete(mut self, outcome: Result<T>) {
        if let Some(s) = self.shared.take() {
            s.complete(outcome);
        }
    }
}

impl<T: Send + 'static> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(s) = self.shared.take() {
            s.complete(Err(Error::internal(
                "an operation ended without an outcome",
            )));
        }
    }
}

impl<T: Send + 'static> Shared<T> {
    fn run_if_queued(&self) {
        let job = {
            let mut st = self.state.lock();
            match std::mem::replace(&mut st.phase, Phase::Running) {
                Phase::Queued(job) => job,
                other => {
                    st.phase = other;
                    return;
                }
            }
        };
        let outcome = catch("a queued operation", job);
        self.complete(outcome);
    }

    fn complete(&self, outcome: Result<T>) {
        {
            let mut st = self.state.lock();
            st.phase = Phase::Done(outcome);
            self.done.store(true, Ordering::Release);
            if let Some(fd) = &st.fd {
                signal(fd);
            }
            self.cond.notify_all();
        }
        self.fire_callback(true);
    }

    /// Runs the callback once, always on a library thread: here when `inline` and this is one,
    /// else queued for one.
    fn fire_callback(&self, inline: bool) {
        let Some(cb) = self.callback.lock().take() else {
            return;
        };
        if inline && pool::on_pool_thread() {
            let _ = catch("a completion callback", || {
                cb();
                Ok(())
            });
        } else {
            pool::submit(cb);
        }
    }
}

fn new_eventfd() -> Result<OwnedFd> {
    // SAFETY: eventfd takes no pointers; a non-negative return is a new descriptor we own.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        return Err(Error::new(
            crate::error::Status::Io,
            format!(
                "cannot make the token's file descriptor: {}",
                crate::error::describe_io(&err)
            ),
        ));
    }
    // SAFETY: fd is a fresh descriptor returned by eventfd and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Makes the eventfd readable for good: nobody ever reads it, so the count stays non-zero.
fn signal(fd: &OwnedFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to a descriptor we own.
    let _ = unsafe {
        libc::write(
            fd.as_raw_fd(),
            (&one as *const u64).cast(),
            std::mem::size_of::<u64>(),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn readable(fd: RawFd) -> bool {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        unsafe { libc::poll(&mut p, 1, 0) == 1 && p.revents & libc::POLLIN != 0 }
    }

    #[test]
    fn finished_is_synchronous_and_calls_back_on_a_library_thread() {
        let (tx, rx) = std::sync::mpsc::channel();
        let c = Completion::finished(
            Ok(5),
            Some(Box::new(move || tx.send(pool::on_pool_thread()).unwrap())),
        );
        assert!(c.completed_synchronously());
        assert!(c.is_completed());
        assert!(rx.recv().unwrap());
        assert_eq!(c.take().unwrap(), 5);
        assert!(c.take().is_err());
    }

    #[test]
    fn spawned_work_completes_and_fd_stays_readable() {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock();
        let g2 = gate.clone();
        let c = Completion::spawn(
            move || {
                let _g = g2.lock();
                Ok(7)
            },
            None,
        );
        let fd = c.fd().unwrap();
        assert!(!c.completed_synchronously());
        assert!(!c.wait(Some(Duration::from_millis(20))) || c.is_completed());
        assert!(!readable(fd) || c.is_completed());
        drop(held);
        assert!(c.wait(Some(Duration::from_secs(10))));
        assert!(readable(fd));
        assert!(readable(fd), "stays readable");
        assert_eq!(c.fd().unwrap(), fd, "one fd per token");
        assert_eq!(c.take().unwrap(), 7);
    }

    #[test]
    fn fd_made_after_completion_is_readable() {
        let c = Completion::finished(Ok(()), None);
        assert!(readable(c.fd().unwrap()));
    }

    #[test]
    fn callback_runs_exactly_once() {
        let n = Arc::new(AtomicUsize::new(0));
        let mut all = Vec::new();
        for i in 0..200 {
            let n2 = n.clone();
            let c = Completion::spawn(
                move || Ok(i),
                Some(Box::new(move || {
                    n2.fetch_add(1, Ordering::SeqCst);
                })),
            );
            all.push(c);
        }
        for (i, c) in all.iter().enumerate() {
            assert_eq!(c.take().unwrap(), i);
        }
        let start = Instant::now();
        while n.load(Ordering::SeqCst) < 200 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(n.load(Ordering::SeqCst), 200);
    }

    #[test]
    fn an_operation_begun_inside_a_callback_calls_back_later() {
        // A callback (on a library thread) that begins an operation finishing at once: its
        // callback must not run inside that begin.
        let (tx, rx) = std::sync::mpsc::channel();
        let outer = Completion::finished(
            Ok(()),
            Some(Box::new(move || {
                // As the C layer does: the callback waits for the token begin_* returns.
                let slot: Arc<once_cell::sync::OnceCell<Completion<u8>>> = Arc::default();
                let s2 = slot.clone();
                let tx2 = tx.clone();
                let inner = Completion::finished(
                    Ok(3),
                    Some(Box::new(move || {
                        tx2.send(s2.wait().take().unwrap()).unwrap();
                    })),
                );
                let _ = slot.set(inner);
            })),
        );
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 3);
        outer.take().unwrap();
    }

    #[test]
    fn panics_become_internal_errors() {
        let c: Completion<()> = Completion::spawn(|| panic!("boom"), None);
        let err = c.take().unwrap_err();
        assert_eq!(err.status, crate::error::Status::Internal);
        assert!(err.message.contains("boom"));
    }

    #[test]
    fn wait_with_zero_timeout_polls() {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock();
        let g2 = gate.clone();
        let c = Completion::spawn(
            move || {
                let _g = g2.lock();
                Ok(())
            },
            None,
        );
        assert!(!c.wait(Some(Duration::ZERO)));
        drop(held);
        c.take().unwrap();
    }
}
