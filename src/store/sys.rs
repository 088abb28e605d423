//! The few system calls the store needs beyond `std::fs`: flock, fsync of a directory, the
//! boot id, and who holds a lock. Every file-system call site of the store goes through `fault`
//! first, the seam the fault-injection tests use.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// A file-system call site, named for fault injection and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Site {
    Open,
    Write,
    Fsync,
    Rename,
    Read,
    Unlink,
    DirFsync,
}

#[cfg(any(test, feature = "fault-injection"))]
pub mod faults {
    //! Test-only: make the next calls at a site fail with an errno, on the calling thread (so
    //! tests running in parallel do not trip over each other's faults).
    use super::Site;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// Per site: (errno, calls to let through first, calls to fail).
    type Plan = HashMap<Site, (i32, u32, u32)>;

    thread_local! {
        static PLAN: RefCell<Plan> = RefCell::new(HashMap::new());
    }

    /// Fails the next `count` calls at `site` on this thread with `errno`.
    pub fn inject(site: Site, errno: i32, count: u32) {
        inject_after(site, errno, 0, count);
    }

    /// Lets `skip` calls at `site` through, then fails `count` of them: a test walks every call
    /// site of an operation by raising `skip` until the fault is no longer reached.
    pub fn inject_after(site: Site, errno: i32, skip: u32, count: u32) {
        PLAN.with(|p| p.borrow_mut().insert(site, (errno, skip, count)));
    }

    /// Whether a planned fault at `site` has not been reached yet.
    pub fn pending(site: Site) -> bool {
        PLAN.with(|p| p.borrow().get(&site).is_some_and(|&(_, _, n)| n > 0))
    }

    pub fn clear() {
        PLAN.with(|p| p.borrow_mut().clear());
    }

    pub(super) fn take(site: Site) -> Option<i32> {
        PLAN.with(|p| {
            let mut plan = p.borrow_mut();
            let (errno, skip, left) = plan.get_mut(&site)?;
            if *skip > 0 {
                *skip -= 1;
                return None;
            }
            if *left == 0 {
                return None;
            }
            *left -= 1;
            Some(*errno)
        })
    }
}

/// Checked before each file-system call; fails only when a test injected a fault.
#[inline]
pub fn fault(site: Site) -> io::Result<()> {
    #[cfg(any(test, feature = "fault-injection"))]
    if let Some(errno) = faults::take(site) {
        return Err(io::Error::from_raw_os_error(errno));
    }
    let _ = site;
    Ok(())
}

fn flock_raw(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor owned by `file`, which outlives the call.
        let r = unsafe { libc::flock(file.as_raw_fd(), op) };
        if r == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Takes an exclusive lock; `Ok(false)` when `wait` is false and another holder has it.
pub fn lock_exclusive(file: &File, wait: bool) -> io::Result<bool> {
    let op = libc::LOCK_EX | if wait { 0 } else { libc::LOCK_NB };
    match flock_raw(file, op) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn unlock(file: &File) {
    let _ = flock_raw(file, libc::LOCK_UN);
}

/// A file's length by seeking to its end: a third of the cost of fstat, and the descriptor's
/// offset is unused (reads are positional, writes append).
pub fn file_len(file: &File) -> io::Result<u64> {
    // SAFETY: lseek on a descriptor owned by `file`.
    let n = unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_END) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as u64)
    }
}

/// Flushes a directory so the names created or renamed in it survive a power cut.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    fault(Site::DirFsync)?;
    File::open(dir)?.sync_all()
}

/// This boot's identity: a slot left by a process of an earlier boot means a power cut or crash
/// of the machine, when unflushed data may be lost.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The pid holding a flock on `file`, from /proc/locks (for SSC_ERR_LOCKED messages).
pub fn lock_holder(file: &File) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    let (ino, dev) = (meta.ino(), meta.dev());
    let major = (dev >> 8) & 0xfff;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    let want = format!("{major:02x}:{minor:02x}:{ino}");
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; blocked waiters are marked "->".
        if f.get(1) == Some(&"->") || !f.contains(&"FLOCK") {
            return None;
        }
        let pos = f.iter().position(|x| x.eq_ignore_ascii_case(&want))?;
        f.get(pos - 1)?.parse().ok()
    })
}

/// The name of the program with `pid`, for messages.
pub fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

/// Whether flushing a file that was just renamed also makes its new name durable, so that a
/// separate flush of the directory adds nothing but a disk cache flush. True for the journaling
/// file systems whose fsync commits the transaction holding the rename: ext4 (the rename updates
/// the inode's ctime in the same handle, and fsync commits up to the inode's last transaction),
/// XFS (the inode is joined to the rename transaction; fsync forces the log up to its LSN) and
/// btrfs (fsync logs the inode's new names). Anything else gets the directory flushed.
pub fn fsync_covers_rename(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    const EXT4: i64 = 0xEF53;
    const XFS: i64 = 0x5846_5342;
    const BTRFS: i64 = 0x9123_683E;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs fills a zeroed struct from a NUL-terminated path.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid C string and s a writable statfs.
    if unsafe { libc::statfs(c.as_ptr(), &mut s) } != 0 {
        return false;
    }
    matches!(s.f_type as i64, EXT4 | XFS | BTRFS)
}
