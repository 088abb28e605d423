//! Bytes on disk: entry files, the shared index log, quota, eviction, and sharing one directory
//! between processes. Knows nothing about Smooth Streaming.
//!
//! Layout of a cache directory:
//! ```text
//! index            the shared index log (log.rs); rebuilt from e/ when lost or damaged
//! lock             flock'd by whoever changes the directory (short: a rename and a log append)
//! slots/<id>       one per open handle, flock'd for its lifetime: a slot whose lock can be taken
//!                  belongs to a process that died, so its leftovers are cleaned up
//! e/xx/<hash>      entry files, named by the key's SHA-256 (entry.rs); temp files `.<slot>-<n>.tmp`
//!                  sit beside them so publishing is a rename within one directory
//! ```
//! Every process keeps the index in memory and tails the log (one fstat per operation) to see
//! what the others did. Changes happen under `lock`: catch up with the log, check the quota
//! exactly, append the record, rename the entry into place.

pub mod entry;
pub mod log;
pub mod sys;

use crate::error::{describe_io, Error, Result, Status};
use log::{Decoded, Record};
use parking_lot::{Mutex, MutexGuard};
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, IoSlice, Read, Write};
use std::os::unix::fs::{DirEntryExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use sys::{fault, Site};

/// The quota a new cache gets when 0 is asked for: the isolated-storage default of the original
/// Silverlight sample.
pub(crate) const DEFAULT_QUOTA: u64 = 1 << 20;
/// How long `open` waits for another process's hold on the directory before `SSC_ERR_LOCKED`
/// (`SMOOTHCACHE_LOCK_TIMEOUT_MS` overrides it).
pub(crate) const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

fn lock_timeout() -> Duration {
    std::env::var("SMOOTHCACHE_LOCK_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(LOCK_TIMEOUT, Duration::from_millis)
}
/// Below this, the log is never compacted.
const COMPACT_MIN: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// An acknowledged entry survives a power cut: file and directory flushed first.
    Power,
    /// An acknowledged entry survives a crash of the process; no flush per entry.
    Process,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    None,
    Lru,
}

/// The index record of one entry, in memory: 40 bytes plus the map's own overhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub ino: u64,
    /// Bytes on disk (header and body): what counts against the quota.
    pub size: u64,
    /// Process-local recency for LRU.
    pub access: u64,
    pub dir: u32,
    pub flags: u8,
}

/// The key hashes are SHA-256 bits already: use them as they are.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type EntryMap = HashMap<u128, Meta, BuildHasherDefault<IdHasher>>;

struct LogFile {
    file: File,
    ino: u64,
    /// Bytes of the log applied to this state.
    offset: u64,
}

/// One process's view of the directory, kept up to date from the log.
pub struct State {
    log: LogFile,
    entries: EntryMap,
    dirs: Vec<Box<str>>,
    dir_ids: HashMap<Box<str>, u32>,
    used: u64,
    quota: u64,
    ignore: crate::key::IgnoreParams,
    opens: HashMap<(u64, String), u32>,
    clock: u64,
    /// Log length at which a reader last stopped at a frame it could not decode; until the log
    /// changes there is no point reading it again.
    stuck_len: u64,
}

/// What a reconcile (or a verify) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub entries: u64,
    pub added: u64,
    pub dropped: u64,
    pub corrupt: u64,
    pub temps_removed: u64,
    pub foreign: u64,
}

/// A body written to a temp file beside its final name, waiting for `commit`.
pub struct Prepared {
    hash: u128,
    dir: String,
    tmp: PathBuf,
    /// Open only while it is being written or committed, so that thousands of persists in
    /// flight do not hold thousands of descriptors.
    file: Option<File>,
    ino: u64,
    size: u64,
    flags: u8,
    synced: bool,
    committed: bool,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A verified entry read from disk.
pub struct Loaded {
    pub buf: Vec<u8>,
    pub body: std::ops::Range<usize>,
    pub content_type: Option<std::ops::Range<usize>>,
    /// The body's checksum (verified): a strong validator for HTTP.
    pub body_sum: u64,
}

pub struct Store {
    root: PathBuf,
    lock_file: File,
    slot: u64,
    slot_path: PathBuf,
    _slot_file: File,
    state: Mutex<State>,
    tmp_seq: AtomicU64,
    /// Entries this handle evicted under LRU.
    pub evictions: AtomicU64,
    /// See `sys::fsync_covers_rename`.
    fsync_covers_rename: bool,
}

fn io_err(what: &str, path: &Path, err: io::Error) -> Error {
    Error::io(what, path, &err)
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most 8 bytes into a live 8-byte buffer.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != 8 {
        // No entropy source: pid and time still make slot ids unique enough on one machine.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        return t ^ (u64::from(std::process::id()) << 32);
    }
    u64::from_le_bytes(b)
}

/// `.{slot:016x}-{n}.tmp` → slot.
fn temp_slot(name: &str) -> Option<u64> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (slot, _) = rest.split_once('-')?;
    u64::from_str_radix(slot, 16).ok()
}

fn parse_hash(name: &str) -> Option<u128> {
    if name.len() == 32 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        u128::from_str_radix(name, 16).ok()
    } else {
        None
    }
}

fn read_all(file: &mut File, len: u64) -> io::Result<Vec<u8>> {
    fault(Site::Read)?;
    let mut buf = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut buf)?;
    Ok(buf)
}

fn write_all_vectored(file: &mut File, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !bufs.is_empty() {
        fault(Site::Write)?;
        match file.write_vectored(bufs) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl State {
    fn new(log: LogFile) -> State {
        State {
            log,
            entries: EntryMap::default(),
            dirs: Vec::new(),
            dir_ids: HashMap::new(),
            used: 0,
            quota: DEFAULT_QUOTA,
            ignore: Default::default(),
            opens: HashMap::new(),
            clock: 0,
            stuck_len: 0,
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Applies one record; true when it says the file was superseded.
    fn apply(&mut self, rec: Record) -> Result<bool> {
        match rec {
            Record::Header { format } => {
                if format > log::FORMAT {
                    return Err(Error::new(
                        Status::Io,
                        format!(
                            "the cache's index format {format} is newer than this library's ({})",
                            log::FORMAT
                        ),
                    ));
                }
            }
            Record::Settings { quota, ignore } => {
                self.quota = quota;
                self.ignore = crate::key::IgnoreParams::parse(&ignore);
            }
            Record::Dir { id, path } => {
                let i = id as usize;
                if i >= self.dirs.len() {
                    self.dirs.resize(i + 1, "".into());
                }
                self.dirs[i] = path.as_str().into();
                self.dir_ids.insert(path.into_boxed_str(), id);
            }
            Record::Put {
                hash,
                ino,
                size,
                dir,
                flags,
            } => {
                let access = self.tick();
                let meta = Meta {
                    ino,
                    size,
                    access,
                    dir,
                    flags,
                };
                if let Some(old) = self.entries.insert(hash, meta) {
                    self.used -= old.size;
                }
                self.used += size;
            }
            Record::Del { hash } => {
                if let Some(old) = self.entries.remove(&hash) {
                    self.used -= old.size;
                }
            }
            Record::Clear => {
                self.entries.clear();
                self.used = 0;
            }
            Record::Open { slot, base } => *self.opens.entry((slot, base)).or_insert(0) += 1,
            Record::Close { slot, base } => {
                let k = (slot, base);
                if let Some(n) = self.opens.get_mut(&k) {
                    *n -= 1;
                    if *n == 0 {
                        self.opens.remove(&k);
                    }
                }
            }
            Record::SlotGone { slot } => self.opens.retain(|(s, _), _| *s != slot),
            Record::Superseded => return Ok(true),
        }
        Ok(false)
    }

    pub fn quota(&self) -> u64 {
        self.quota
    }
    pub fn used(&self) -> u64 {
        self.used
    }
    pub fn entry_count(&self) -> u64 {
        self.entries.len() as u64
    }
    pub fn ignore(&self) -> &crate::key::IgnoreParams {
        &self.ignore
    }

    /// Directories that belong to an open presentation (their entries are not evicted).
    /// Directories of open presentations and of pinned (downloaded) ones.
    fn protected_dirs(&self) -> HashSet<u32> {
        let pinned = entry::FLAG_PRESENTATION | entry::FLAG_PINNED;
        let mut bases: Vec<&str> = self.opens.keys().map(|(_, b)| b.as_str()).collect();
        bases.extend(
            self.entries
                .values()
                .filter(|m| m.flags & pinned == pinned)
                .map(|m| self.dirs.get(m.dir as usize).map_or("", |d| d)),
        );
        let mut out = HashSet::new();
        if bases.is_empty() {
            return out;
        }
        for (i, d) in self.dirs.iter().enumerate() {
            if bases.iter().any(|base| d.starts_with(base)) {
                out.insert(i as u32);
            }
        }
        out
    }

    /// Entries whose directory lies under `base`: (hash, meta) pairs.
    pub fn entries_under(&self, base: &str) -> Vec<(u128, Meta)> {
        let dirs: HashSet<u32> = self
            .dirs
            .iter()
            .enumerate()
            .filter(|(_, d)| d.starts_with(base))
            .map(|(i, _)| i as u32)
            .collect();
        self.entries
            .iter()
            .filter(|(_, m)| dirs.contains(&m.dir))
            .map(|(h, m)| (*h, *m))
            .collect()
    }

    /// Hashes of the presentation records.
    pub fn presentation_records(&self) -> Vec<u128> {
        self.entries
            .iter()
            .filter(|(_, m)| m.flags & entry::FLAG_PRESENTATION != 0)
            .map(|(h, _)| *h)
            .collect()
    }

    /// Whether an entry is stored, without touching its recency.
    pub fn contains(&self, hash: u128) -> Option<Meta> {
        self.entries.get(&hash).copied()
    }

    /// Least recently used evictable entries freeing at least `need` bytes, or None.
    fn victims(&self, need: u64, except: u128) -> Option<Vec<(u128, Meta)>> {
        let protected = self.protected_dirs();
        let mut cands: Vec<(u128, Meta)> = self
            .entries
            .iter()
            .filter(|(h, m)| {
                **h != except && m.flags & entry::FLAG_PINNED == 0 && !protected.contains(&m.dir)
            })
            .map(|(h, m)| (*h, *m))
            .collect();
        cands.sort_unstable_by_key(|(_, m)| m.access);
        let mut freed = 0u64;
        let mut out = Vec::new();
        for c in cands {
            if freed >= need {
                break;
            }
            freed += c.1.size;
            out.push(c);
        }
        (freed >= need).then_some(out)
    }
}

impl Store {
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("index")
    }

    fn subdir(&self, hash: u128) -> PathBuf {
        self.root
            .join("e")
            .join(format!("{:02x}", (hash >> 120) as u8))
    }

    pub fn entry_path(&self, hash: u128) -> PathBuf {
        self.subdir(hash).join(crate::key::hash_hex(hash))
    }

    /// Opens (creating when missing) the cache in `root`.
    pub fn open(root: &Path, quota: u64) -> Result<Store> {
        fs::create_dir_all(root).map_err(|e| io_err("cannot create", root, e))?;
        let lock_path = root.join("lock");
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| io_err("cannot open", &lock_path, e))?;
        Self::lock_with_timeout(root, &lock_file)?;
        let setup = Self::register(root, quota);
        let (slot, slot_path, slot_file, log, mut need_reconcile) = match setup {
            Ok(s) => s,
            Err(e) => {
                sys::unlock(&lock_file);
                return Err(e);
            }
        };
        let store = Store {
            root: root.to_owned(),
            lock_file,
            slot,
            slot_path,
            _slot_file: slot_file,
            state: Mutex::new(State::new(log)),
            tmp_seq: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            fsync_covers_rename: sys::fsync_covers_rename(&root.join("e")),
        };
        let result = (|| {
            let mut st = store.state.lock();
            let st = &mut *st;
            need_reconcile |= store.replay(st, true)?;
            let (dead, deep) = store.dead_slots();
            if need_reconcile || !dead.is_empty() {
                let alive = store.alive_slots(&dead);
                store.reconcile(st, &alive, deep)?;
                let gone: Vec<Record> = dead
                    .iter()
                    .map(|(id, _)| Record::SlotGone { slot: *id })
                    .collect();
                store.append(st, &gone)?;
                store.compact(st)?;
                for (_, path) in &dead {
                    let _ = fs::remove_file(path);
                }
            }
            if quota > st.quota {
                let ignore = st.ignore.to_list();
                store.append_settings(st, quota, ignore)?;
            }
            crate::log::opened(root, st.entries.len(), st.used, st.quota);
            Ok(())
        })();
        sys::unlock(&store.lock_file);
        result.map(|()| store)
    }

    /// Waits for the directory lock, naming the holder if it never comes.
    fn lock_with_timeout(root: &Path, lock_file: &File) -> Result<()> {
        let start = Instant::now();
        let timeout = lock_timeout();
        loop {
            match sys::lock_exclusive(lock_file, false) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => return Err(io_err("cannot lock", &root.join("lock"), e)),
            }
            if start.elapsed() > timeout {
                // /proc/locks can miss a lock taken or moved just then: look a few times.
                let holder = (0..3).find_map(|i| {
                    std::thread::sleep(Duration::from_millis(i * 10));
                    sys::lock_holder(lock_file)
                });
                let who = holder.map_or_else(
                    || "another process".to_owned(),
                    |pid| format!("process {pid} ({})", sys::process_name(pid)),
                );
                return Err(Error::new(
                    Status::Locked,
                    format!(
                        "{} is held by {who} and was not released within {} ms",
                        root.display(),
                        timeout.as_millis()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Under the directory lock: creates the layout, registers this handle's slot (a locked
    /// file that lives as long as the handle) and opens the log.
    #[allow(clippy::type_complexity)]
    fn register(root: &Path, quota: u64) -> Result<(u64, PathBuf, File, LogFile, bool)> {
        // The 256 subdirectories of e/ are made when first written to: making them all up
        // front costs a new cache up to 160 ms on ext4.
        let e_dir = root.join("e");
        if !e_dir.is_dir() {
            fs::create_dir_all(&e_dir).map_err(|e| io_err("cannot create", &e_dir, e))?;
            sys::fsync_dir(root).map_err(|e| io_err("cannot flush", root, e))?;
        }
        let slots = root.join("slots");
        fs::create_dir_all(&slots).map_err(|e| io_err("cannot create", &slots, e))?;
        let slot = random_u64();
        let slot_path = slots.join(format!("{slot:016x}"));
        let mut slot_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&slot_path)
            .map_err(|e| io_err("cannot create", &slot_path, e))?;
        sys::lock_exclusive(&slot_file, false).map_err(|e| io_err("cannot lock", &slot_path, e))?;
        let reg = writeln!(slot_file, "{} {}", std::process::id(), sys::boot_id())
            .and_then(|()| slot_file.sync_all())
            .and_then(|()| sys::fsync_dir(&slots));
        if let Err(e) = reg {
            let _ = fs::remove_file(&slot_path);
            return Err(io_err("cannot register in", &slots, e));
        }
        match Self::open_log(root, quota) {
            Ok((log, need)) => Ok((slot, slot_path, slot_file, log, need)),
            Err(e) => {
                let _ = fs::remove_file(&slot_path);
                Err(e)
            }
        }
    }

    /// Opens `index`, creating it (and asking for a rebuild from the entry files) when it is
    /// missing or unreadable.
    fn open_log(root: &Path, quota: u64) -> Result<(LogFile, bool)> {
        let path = root.join("index");
        let open = |p: &Path| -> io::Result<File> {
            fault(Site::Open)?;
            OpenOptions::new().read(true).append(true).open(p)
        };
        // Without an index, rebuild from the entries — if there are any: a new cache has none.
        let need_reconcile = fs::read_dir(root.join("e")).is_ok_and(|mut d| d.next().is_some());
        match open(&path) {
            Ok(file) => {
                let mut head = vec![0u8; 64];
                let n = file.read_at(&mut head, 0).unwrap_or(0);
                let ok = matches!(
                    log::decode(&head[..n]),
                    Decoded::Record(Record::Header { .. }, _)
                );
                if ok {
                    let ino = file
                        .metadata()
                        .map_err(|e| io_err("cannot stat", &path, e))?
                        .ino();
                    return Ok((
                        LogFile {
                            file,
                            ino,
                            offset: 0,
                        },
                        false,
                    ));
                }
                // Damaged beyond its first record: keep it for inspection, rebuild from the entries.
                let aside = root.join(format!(
                    "index.damaged-{}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                ));
                let _ = fs::rename(&path, &aside);
            }
            // A missing index with entries present is rebuilt from them.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("cannot open", &path, e)),
        }
        let quota = if quota == 0 { DEFAULT_QUOTA } else { quota };
        let mut buf = Vec::new();
        Record::Header {
            format: log::FORMAT,
        }
        .encode(&mut buf);
        Record::Settings {
            quota,
            ignore: String::new(),
        }
        .encode(&mut buf);
        let file = Self::write_new_log(root, &buf)?;
        let ino = file
            .metadata()
            .map_err(|e| io_err("cannot stat", &path, e))?
            .ino();
        Ok((
            LogFile {
                file,
                ino,
                offset: 0,
            },
            need_reconcile,
        ))
    }

    /// Writes a complete log file to `index.new`, flushes it and renames it to `index`.
    fn write_new_log(root: &Path, contents: &[u8]) -> Result<File> {
        let tmp = root.join("index.new");
        let path = root.join("index");
        let res = (|| -> io::Result<File> {
            fault(Site::Open)?;
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            fault(Site::Write)?;
            f.write_all(contents)?;
            fault(Site::Fsync)?;
            f.sync_all()?;
            fault(Site::Rename)?;
            fs::rename(&tmp, &path)?;
            sys::fsync_dir(root)?;
            fault(Site::Open)?;
            OpenOptions::new().read(true).append(true).open(&path)
        })();
        res.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err("cannot write the index", &path, e)
        })
    }

    /// Slots whose lock is free: their process is gone. Also whether one is from an earlier boot.
    fn dead_slots(&self) -> (Vec<(u64, PathBuf)>, bool) {
        let mut dead = Vec::new();
        let mut deep = false;
        let boot = sys::boot_id();
        let Ok(rd) = fs::read_dir(self.root.join("slots")) else {
            return (dead, deep);
        };
        for ent in rd.flatten() {
            let name = ent.file_name();
            let Some(id) = name.to_str().and_then(|n| u64::from_str_radix(n, 16).ok()) else {
                continue;
            };
            if id == self.slot {
                continue;
            }
            let path = ent.path();
            let Ok(mut f) = OpenOptions::new().read(true).write(true).open(&path) else {
                continue;
            };
            if let Ok(true) = sys::lock_exclusive(&f, false) {
                let mut s = String::new();
                let _ = f.read_to_string(&mut s);
                if s.split_whitespace().nth(1).unwrap_or("") != boot {
                    deep = true;
                }
                dead.push((id, path));
            }
        }
        (dead, deep)
    }

    fn alive_slots(&self, dead: &[(u64, PathBuf)]) -> HashSet<u64> {
        let dead: HashSet<u64> = dead.iter().map(|(id, _)| *id).collect();
        let mut alive = HashSet::new();
        alive.insert(self.slot);
        if let Ok(rd) = fs::read_dir(self.root.join("slots")) {
            for ent in rd.flatten() {
                if let Some(id) = ent
                    .file_name()
                    .to_str()
                    .and_then(|n| u64::from_str_radix(n, 16).ok())
                {
                    if !dead.contains(&id) {
                        alive.insert(id);
                    }
                }
            }
        }
        alive
    }

    /// Catches up with the log. Under the directory lock (`locked`), a torn tail is truncated and
    /// a replaced `index` is followed; returns true when something suggests the index and the
    /// entry files may disagree (a torn record: a writer died mid-append).
    fn replay(&self, st: &mut State, locked: bool) -> Result<bool> {
        let mut suspicious = false;
        loop {
            fault(Site::Read).map_err(|e| io_err("cannot read", &self.index_path(), e))?;
            // The log's length is its progress; one cheap syscall per operation.
            let len = sys::file_len(&st.log.file)
                .map_err(|e| io_err("cannot stat", &self.index_path(), e))?;
            if len < st.log.offset {
                // Shrunk under us: not something this library does. Start again from its start.
                self.restart(st)?;
                continue;
            }
            let mut superseded = false;
            if len > st.log.offset && (locked || len != st.stuck_len) {
                let mut buf = vec![0u8; (len - st.log.offset) as usize];
                st.log
                    .file
                    .read_exact_at(&mut buf, st.log.offset)
                    .map_err(|e| io_err("cannot read", &self.index_path(), e))?;
                let mut pos = 0usize;
                while pos < buf.len() {
                    match log::decode(&buf[pos..]) {
                        Decoded::Record(rec, n) => {
                            pos += n;
                            if st.apply(rec)? {
                                superseded = true;
                                break;
                            }
                        }
                        Decoded::Incomplete | Decoded::Invalid(_) => {
                            if locked {
                                // Nobody else is writing: a crash tore this record. Cut it off.
                                let at = st.log.offset + pos as u64;
                                st.log
                                    .file
                                    .set_len(at)
                                    .map_err(|e| io_err("cannot repair", &self.index_path(), e))?;
                                suspicious = true;
                            } else {
                                st.stuck_len = len;
                            }
                            break;
                        }
                    }
                }
                st.log.offset += pos as u64;
            }
            if !superseded && locked {
                // A compaction that crashed before marking the old file still replaced it.
                match fs::metadata(self.index_path()) {
                    Ok(m) if m.ino() != st.log.ino => superseded = true,
                    _ => {}
                }
            }
            if superseded {
                self.restart(st)?;
                continue;
            }
            return Ok(suspicious);
        }
    }

    /// Reopens `index` and rebuilds the state from its start, keeping recency where it can.
    fn restart(&self, st: &mut State) -> Result<()> {
        let path = self.index_path();
        fault(Site::Open).map_err(|e| io_err("cannot open", &path, e))?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| io_err("cannot open", &path, e))?;
        let ino = file
            .metadata()
            .map_err(|e| io_err("cannot stat", &path, e))?
            .ino();
        let old = std::mem::take(&mut st.entries);
        let clock = st.clock;
        *st = State::new(LogFile {
            file,
            ino,
            offset: 0,
        });
        st.clock = clock;
        // Replayed records get fresh ticks; put back what this process knew of recency.
        self.replay_fresh(st)?;
        for (h, m) in st.entries.iter_mut() {
            if let Some(o) = old.get(h) {
                m.access = o.access;
            }
        }
        Ok(())
    }

    fn replay_fresh(&self, st: &mut State) -> Result<()> {
        let len = st
            .log
            .file
            .metadata()
            .map_err(|e| io_err("cannot stat", &self.index_path(), e))?
            .len();
        let mut buf = vec![0u8; len as usize];
        st.log
            .file
            .read_exact_at(&mut buf, 0)
            .map_err(|e| io_err("cannot read", &self.index_path(), e))?;
        let mut pos = 0;
        while pos < buf.len() {
            match log::decode(&buf[pos..]) {
                Decoded::Record(rec, n) => {
                    pos += n;
                    if st.apply(rec)? {
                        break;
                    }
                }
                _ => break,
            }
        }
        st.log.offset = pos as u64;
        Ok(())
    }

    /// Locks the state and catches up with the log (no directory lock).
    pub fn synced(&self) -> Result<MutexGuard<'_, State>> {
        let (st, caught_up) = self.lock_and_catch_up();
        caught_up.map(|()| st)
    }

    /// Locks the state and tries to catch up; the state is returned even when reading the log
    /// failed, so a caller can still check its arguments before reporting that failure.
    pub fn lock_and_catch_up(&self) -> (MutexGuard<'_, State>, Result<()>) {
        let mut st = self.state.lock();
        let r = self.replay(&mut st, false).map(|_| ());
        (st, r)
    }

    /// Runs `f` holding the directory lock, with the state caught up. With `wait == false`,
    /// answers `Ok(None)` instead of waiting for another process.
    pub fn write_locked<R>(
        &self,
        wait: bool,
        f: impl FnOnce(&mut State) -> Result<R>,
    ) -> Result<Option<R>> {
        let mut st = self.state.lock();
        let lock_path = self.root.join("lock");
        if !sys::lock_exclusive(&self.lock_file, wait)
            .map_err(|e| io_err("cannot lock", &lock_path, e))?
        {
            return Ok(None);
        }
        let _unlock = scopeguard(|| sys::unlock(&self.lock_file));
        self.replay(&mut st, true)?;
        let r = f(&mut st)?;
        self.maybe_compact(&mut st);
        Ok(Some(r))
    }

    fn locked<R>(&self, f: impl FnOnce(&mut State) -> Result<R>) -> Result<R> {
        self.write_locked(true, f)
            .map(|r| r.expect("a waiting lock is always taken"))
    }

    /// Appends records (under the directory lock) and applies them to this state.
    fn append(&self, st: &mut State, recs: &[Record]) -> Result<()> {
        if recs.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for r in recs {
            r.encode(&mut buf);
        }
        let res = fault(Site::Write).and_then(|()| (&st.log.file).write_all(&buf));
        if let Err(e) = res {
            // Leave no partial record behind.
            let _ = st.log.file.set_len(st.log.offset);
            return Err(io_err("cannot append to", &self.index_path(), e));
        }
        st.log.offset += buf.len() as u64;
        for r in recs {
            st.apply(r.clone())?;
        }
        Ok(())
    }

    fn append_settings(&self, st: &mut State, quota: u64, ignore: String) -> Result<()> {
        self.append(st, &[Record::Settings { quota, ignore }])?;
        // Settings are rare and small: always make them durable.
        fault(Site::Fsync)
            .and_then(|()| st.log.file.sync_data())
            .map_err(|e| io_err("cannot flush", &self.index_path(), e))
    }

    fn dir_id(&self, st: &mut State, dir: &str) -> Result<u32> {
        if let Some(&id) = st.dir_ids.get(dir) {
            return Ok(id);
        }
        let id = st.dirs.len() as u32;
        self.append(
            st,
            &[Record::Dir {
                id,
                path: dir.to_owned(),
            }],
        )?;
        Ok(id)
    }

    // ---- reading ----

    /// Index look-up: no disk I/O beyond an fstat of the log. Marks the entry recently used.
    pub fn lookup(st: &mut State, hash: u128) -> Option<Meta> {
        let now = st.tick();
        let m = st.entries.get_mut(&hash)?;
        m.access = now;
        Some(*m)
    }

    /// Reads and verifies the entry of `key`. `Ok(None)`: it is not there (any more).
    pub fn read(&self, key: &str, hash: u128) -> Result<Option<Loaded>> {
        let path = self.entry_path(hash);
        let opened = fault(Site::Open).and_then(|()| File::open(&path));
        let mut file = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.forget_missing(hash)?;
                return Ok(None);
            }
            Err(e) => return Err(io_err("cannot open", &path, e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| io_err("cannot stat", &path, e))?;
        let buf = read_all(&mut file, meta.len()).map_err(|e| io_err("cannot read", &path, e))?;
        match entry::decode_entry(&buf) {
            Ok((h, body)) => {
                if h.key != key {
                    // Another key's file (a stale index or a hash collision): not ours to serve.
                    return Ok(None);
                }
                let content_type = h.content_type.map(|c| {
                    let start = c.as_ptr() as usize - buf.as_ptr() as usize;
                    start..start + c.len()
                });
                let body_sum = h.body_sum;
                Ok(Some(Loaded {
                    buf,
                    body,
                    content_type,
                    body_sum,
                }))
            }
            Err(why) => {
                let why = match why {
                    entry::Invalid::Foreign => "not an entry file".to_owned(),
                    entry::Invalid::Damaged(s) => s,
                };
                self.drop_damaged(hash, meta.ino())?;
                crate::log::warn(format_args!("{}: {why}; dropped", path.display()));
                Err(Error::new(
                    Status::Corrupt,
                    format!(
                        "{} failed its integrity check ({why}); the entry was dropped",
                        path.display()
                    ),
                ))
            }
        }
    }

    /// The file of an indexed entry vanished (removed by hand, or by a process whose record we
    /// have not seen): record that, so accounting matches the files.
    fn forget_missing(&self, hash: u128) -> Result<()> {
        let path = self.entry_path(hash);
        self.locked(|st| {
            if st.entries.contains_key(&hash) && !path.exists() {
                self.append(st, &[Record::Del { hash }])?;
            }
            Ok(())
        })
    }

    /// Removes a damaged entry file, unless it was replaced by a new one meanwhile.
    fn drop_damaged(&self, hash: u128, ino: u64) -> Result<()> {
        let path = self.entry_path(hash);
        self.locked(|st| {
            if fs::metadata(&path).map(|m| m.ino()).ok() == Some(ino) {
                fault(Site::Unlink)
                    .and_then(|()| fs::remove_file(&path))
                    .map_err(|e| io_err("cannot remove damaged entry", &path, e))?;
            }
            if st.entries.contains_key(&hash) {
                self.append(st, &[Record::Del { hash }])?;
            }
            Ok(())
        })
    }

    // ---- writing ----

    /// Whether an entry of `size` bytes under `hash` can fit, from this process's view (the
    /// exact check happens at commit, under the directory lock).
    pub fn check_fits(st: &State, hash: u128, size: u64, eviction: Eviction) -> Result<()> {
        let old = st.entries.get(&hash).map_or(0, |m| m.size);
        if size > st.quota || (eviction == Eviction::None && st.used - old + size > st.quota) {
            return Err(quota_error(size, st.used - old, st.quota));
        }
        Ok(())
    }

    /// Writes header and body to a temp file beside the entry's final name. Nothing is visible
    /// yet.
    pub fn write_temp(
        &self,
        key: &crate::key::Key,
        content_type: Option<&str>,
        body: &[u8],
        flags: u8,
    ) -> Result<Prepared> {
        let header = entry::encode_header(key.as_str(), content_type, body, flags);
        let size = (header.len() + body.len()) as u64;
        let hash = key.hash();
        let dir = self.subdir(hash);
        let seq = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{:016x}-{seq}.tmp", self.slot));
        let create = || {
            fault(Site::Open).and_then(|()| {
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o644)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(&tmp)
            })
        };
        let file = match create() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The subdirectory's first entry: make it, and make its name durable.
                fs::create_dir_all(&dir).map_err(|e| io_err("cannot create", &dir, e))?;
                let e_dir = self.root.join("e");
                sys::fsync_dir(&e_dir).map_err(|e| io_err("cannot flush", &e_dir, e))?;
                create()
            }
            other => other,
        }
        .map_err(|e| io_err("cannot create", &tmp, e))?;
        let mut file = file;
        let mut prepared = Prepared {
            hash,
            dir: key.dir().to_owned(),
            tmp,
            file: None,
            ino: 0,
            size,
            flags,
            synced: false,
            committed: false,
        };
        write_all_vectored(&mut file, &mut [IoSlice::new(&header), IoSlice::new(body)])
            .map_err(|e| io_err("cannot write", &prepared.tmp, e))?;
        prepared.ino = file
            .metadata()
            .map_err(|e| io_err("cannot stat", &prepared.tmp, e))?
            .ino();
        Ok(prepared)
    }

    /// Publishes a prepared entry: exact quota check (evicting under LRU), index record, rename;
    /// at `Power`, the file and its directory are flushed before this returns. With `wait ==
    /// false` and the directory busy, answers `Ok(false)` and leaves `p` for a later call.
    pub fn commit(
        &self,
        p: &mut Prepared,
        durability: Durability,
        eviction: Eviction,
        wait: bool,
    ) -> Result<bool> {
        let power = durability == Durability::Power;
        if power && p.file.is_none() {
            // Opened by its temp name before the rename, flushed through it after.
            let f = fault(Site::Open)
                .and_then(|()| File::open(&p.tmp))
                .map_err(|e| io_err("cannot open", &p.tmp, e))?;
            p.file = Some(f);
        }
        // A replace must not lose the old version to a power cut: flush the new one before it
        // takes the name. A new name has nothing to lose, so its flush can follow the rename,
        // where the file system commits both together.
        if power && !p.synced && self.state.lock().entries.contains_key(&p.hash) {
            self.fsync_temp(p)?;
        }
        let final_path = self.entry_path(p.hash);
        let done = self.write_locked(wait, |st| {
            let existing = st.entries.get(&p.hash).copied();
            if power && !p.synced && existing.is_some() {
                self.fsync_temp(p)?;
            }
            let base = st.used - existing.map_or(0, |m| m.size);
            if base + p.size > st.quota {
                let need = base + p.size - st.quota;
                let victims = match eviction {
                    Eviction::Lru if p.size <= st.quota => st.victims(need, p.hash),
                    _ => None,
                };
                let Some(victims) = victims else {
                    return Err(quota_error(p.size, base, st.quota));
                };
                let (n, _) = self.delete(st, &victims, "cannot evict")?;
                self.evictions.fetch_add(n, Ordering::Relaxed);
            }
            let dir = self.dir_id(st, &p.dir)?;
            self.append(
                st,
                &[Record::Put {
                    hash: p.hash,
                    ino: p.ino,
                    size: p.size,
                    dir,
                    flags: p.flags,
                }],
            )?;
            if let Err(e) = fault(Site::Rename).and_then(|()| fs::rename(&p.tmp, &final_path)) {
                // Undo the record: the old version (if any) is still the one on disk.
                let undo = match existing {
                    Some(m) => put_record(p.hash, &m),
                    None => Record::Del { hash: p.hash },
                };
                let _ = self.append(st, &[undo]);
                return Err(io_err("cannot publish", &final_path, e));
            }
            p.committed = true;
            Ok(())
        })?;
        if done.is_none() {
            return Ok(false);
        }
        if power {
            let res = (|| {
                let flushed_before_rename = p.synced;
                if !p.synced {
                    fault(Site::Fsync)?;
                    if let Some(f) = &p.file {
                        f.sync_all()?;
                    }
                }
                // A flush after the rename carries the new name too where the file system
                // commits both together; elsewhere, and after a replace, flush the directory.
                if flushed_before_rename || !self.fsync_covers_rename {
                    sys::fsync_dir(&self.subdir(p.hash))?;
                }
                Ok(())
            })();
            res.map_err(|e| {
                Error::new(
                    Status::Io,
                    format!(
                        "{} was stored but could not be flushed to disk: {}",
                        final_path.display(),
                        describe_io(&e)
                    ),
                )
            })?;
        }
        Ok(true)
    }

    fn fsync_temp(&self, p: &mut Prepared) -> Result<()> {
        fault(Site::Fsync)
            .and_then(|()| p.file.as_ref().map_or(Ok(()), File::sync_all))
            .map_err(|e| io_err("cannot flush", &p.tmp, e))?;
        p.synced = true;
        Ok(())
    }

    /// Removes an entry; false when there was none.
    pub fn remove(&self, hash: u128) -> Result<bool> {
        self.locked(|st| {
            let Some(m) = st.entries.get(&hash).copied() else {
                return Ok(false);
            };
            self.delete(st, &[(hash, m)], "cannot remove")?;
            Ok(true)
        })
    }

    /// Deletes entries: the records first (so a failed log write deletes nothing), then the
    /// files; a file that cannot be unlinked gets its record back. (entries, bytes) deleted.
    fn delete(&self, st: &mut State, victims: &[(u128, Meta)], what: &str) -> Result<(u64, u64)> {
        if victims.is_empty() {
            return Ok((0, 0));
        }
        let dels: Vec<Record> = victims
            .iter()
            .map(|(h, _)| Record::Del { hash: *h })
            .collect();
        self.append(st, &dels)?;
        let (mut n, mut bytes) = (0, 0);
        let mut restore = Vec::new();
        let mut first_err = None;
        for (h, m) in victims {
            let path = self.entry_path(*h);
            match fault(Site::Unlink).and_then(|()| fs::remove_file(&path)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    restore.push(put_record(*h, m));
                    first_err.get_or_insert_with(|| io_err(what, &path, e));
                    continue;
                }
            }
            n += 1;
            bytes += m.size;
        }
        if !restore.is_empty() {
            // Best effort: if even this fails, the next reconcile finds the files again.
            let _ = self.append(st, &restore);
        }
        first_err.map_or(Ok((n, bytes)), Err)
    }

    /// Removes every entry under `base` (a presentation): (entries, bytes) removed.
    pub fn remove_under(&self, base: &str) -> Result<(u64, u64)> {
        self.locked(|st| {
            let victims = st.entries_under(base);
            self.delete(st, &victims, "cannot remove")
        })
    }

    /// Reads an entry by hash whatever its key: (key, content type, body), verified.
    pub fn read_any(&self, hash: u128) -> Result<Option<(String, Vec<u8>)>> {
        let path = self.entry_path(hash);
        let buf = match fault(Site::Read).and_then(|()| fs::read(&path)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("cannot read", &path, e)),
        };
        match entry::decode_entry(&buf) {
            Ok((h, body)) => Ok(Some((h.key.to_owned(), buf[body].to_vec()))),
            Err(_) => Ok(None),
        }
    }

    /// Flushes everything written to the cache's file system (the end of a bulk download at the
    /// power level: one flush instead of one per entry).
    pub fn flush_all(&self) -> Result<()> {
        let f = File::open(&self.root).map_err(|e| io_err("cannot open", &self.root, e))?;
        fault(Site::Fsync).map_err(|e| io_err("cannot flush", &self.root, e))?;
        // SAFETY: syncfs on a descriptor we own.
        if unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&f)) } != 0 {
            let e = io::Error::last_os_error();
            return Err(io_err("cannot flush", &self.root, e));
        }
        Ok(())
    }

    /// Removes every entry (pinned ones and those of open presentations included).
    pub fn clear(&self) -> Result<()> {
        self.locked(|st| {
            // One record for all, then the files; those that stay get their records back.
            let all: Vec<(u128, Meta)> = st.entries.iter().map(|(h, m)| (*h, *m)).collect();
            self.append(st, &[Record::Clear])?;
            let mut restore = Vec::new();
            let mut first_err = None;
            for (h, m) in &all {
                let path = self.entry_path(*h);
                match fault(Site::Unlink).and_then(|()| fs::remove_file(&path)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        restore.push(put_record(*h, m));
                        first_err.get_or_insert_with(|| io_err("cannot remove", &path, e));
                    }
                }
            }
            if !restore.is_empty() {
                let _ = self.append(st, &restore);
            }
            first_err.map_or(Ok(()), Err)
        })
    }

    /// Grows the quota; a smaller value is refused.
    pub fn increase_quota(&self, quota: u64) -> Result<()> {
        self.locked(|st| {
            if quota < st.quota {
                return Err(Error::invalid(format!(
                    "the quota only grows: {quota} is less than the current {}",
                    st.quota
                )));
            }
            if quota > st.quota {
                let ignore = st.ignore.to_list();
                self.append_settings(st, quota, ignore)?;
            }
            Ok(())
        })
    }

    pub fn set_ignore(&self, ignore: &crate::key::IgnoreParams) -> Result<()> {
        self.locked(|st| {
            let quota = st.quota;
            self.append_settings(st, quota, ignore.to_list())
        })
    }

    pub fn open_media(&self, base: &str) -> Result<()> {
        self.locked(|st| {
            self.append(
                st,
                &[Record::Open {
                    slot: self.slot,
                    base: base.to_owned(),
                }],
            )
        })
    }

    pub fn close_media(&self, base: &str) -> Result<()> {
        self.locked(|st| {
            if !st.opens.contains_key(&(self.slot, base.to_owned())) {
                return Err(Error::invalid(format!(
                    "{base} is not open (close_media called more often than open_media)"
                )));
            }
            self.append(
                st,
                &[Record::Close {
                    slot: self.slot,
                    base: base.to_owned(),
                }],
            )
        })
    }

    // ---- recovery ----

    /// Makes the index agree with the entry files: every entry file is indexed with its true
    /// inode and size, every index record has its file, temp files of dead slots are removed,
    /// damaged entries dropped, foreign files left alone. `deep` also compares sizes (after a
    /// power cut an inode number alone proves less).
    fn reconcile(&self, st: &mut State, alive: &HashSet<u64>, deep: bool) -> Result<Report> {
        let mut report = Report::default();
        let mut seen: HashSet<u128> = HashSet::with_capacity(st.entries.len());
        let mut recs = Vec::new();
        let e_dir = self.root.join("e");
        let mut new_dirs: HashMap<String, u32> = HashMap::new();
        for i in 0..=255u8 {
            let sub = e_dir.join(format!("{i:02x}"));
            let rd = match fs::read_dir(&sub) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("cannot list", &sub, e)),
            };
            for ent in rd {
                let ent = ent.map_err(|e| io_err("cannot list", &sub, e))?;
                let name = ent.file_name();
                let Some(name) = name.to_str() else {
                    report.foreign += 1;
                    continue;
                };
                if let Some(slot) = temp_slot(name) {
                    if !alive.contains(&slot) {
                        let _ = fs::remove_file(ent.path());
                        report.temps_removed += 1;
                    }
                    continue;
                }
                let Some(hash) = parse_hash(name).filter(|h| (h >> 120) as u8 == i) else {
                    report.foreign += 1;
                    continue;
                };
                let indexed = st.entries.get(&hash).copied();
                let ino = ent.ino();
                let quick_ok = match indexed {
                    Some(m) if m.ino == ino => {
                        !deep || ent.metadata().map(|md| md.len()).ok() == Some(m.size)
                    }
                    _ => false,
                };
                if quick_ok {
                    seen.insert(hash);
                    report.entries += 1;
                    continue;
                }
                match self.read_header(&ent.path(), hash) {
                    Ok((ino, size, key_dir, flags)) => {
                        seen.insert(hash);
                        report.entries += 1;
                        report.added += 1;
                        let dir = match st.dir_ids.get(key_dir.as_str()) {
                            Some(&d) => d,
                            None => match new_dirs.get(&key_dir) {
                                Some(&d) => d,
                                None => {
                                    let id = (st.dirs.len() + new_dirs.len()) as u32;
                                    new_dirs.insert(key_dir.clone(), id);
                                    recs.push(Record::Dir { id, path: key_dir });
                                    id
                                }
                            },
                        };
                        recs.push(Record::Put {
                            hash,
                            ino,
                            size,
                            dir,
                            flags,
                        });
                    }
                    Err(entry::Invalid::Foreign) => report.foreign += 1,
                    Err(entry::Invalid::Damaged(_)) => {
                        crate::log::warn(format_args!("{:?}: damaged; removed", ent.path()));
                        let _ = fs::remove_file(ent.path());
                        report.corrupt += 1;
                    }
                }
            }
        }
        for h in st.entries.keys() {
            if !seen.contains(h) {
                recs.push(Record::Del { hash: *h });
                report.dropped += 1;
            }
        }
        self.append(st, &recs)?;
        crate::log::reconciled(&self.root, &report);
        Ok(report)
    }

    /// Reads and checks an entry file's header: (inode, size, its key's directory, flags).
    fn read_header(
        &self,
        path: &Path,
        hash: u128,
    ) -> Result<(u64, u64, String, u8), entry::Invalid> {
        let damaged = |s: &str| entry::Invalid::Damaged(s.to_owned());
        let file = File::open(path).map_err(|_| damaged("unreadable"))?;
        let md = file.metadata().map_err(|_| damaged("unreadable"))?;
        let mut head = vec![0u8; (md.len() as usize).min(2 * entry::MAX_FIELD + 64)];
        let n = file
            .read_at(&mut head, 0)
            .map_err(|_| damaged("unreadable"))?;
        let h = entry::decode_header(&head[..n])?;
        if crate::key::hash_key(h.key) != hash {
            return Err(damaged("file name does not match its key"));
        }
        if h.header_len as u64 + h.body_len != md.len() {
            return Err(damaged("size does not match its header"));
        }
        let key = crate::key::Key::parse(h.key, &crate::key::IgnoreParams::None)
            .map_err(|_| damaged("key is not a URL"))?;
        Ok((md.ino(), md.len(), key.dir().to_owned(), h.flags))
    }

    /// Reads every entry and checks its checksum, dropping damaged ones; then reconciles.
    pub fn verify(&self) -> Result<Report> {
        let hashes: Vec<u128> = self.synced()?.entries.keys().copied().collect();
        let mut corrupt = 0;
        for h in hashes {
            let path = self.entry_path(h);
            let Ok(buf) = fs::read(&path) else { continue };
            match entry::decode_entry(&buf) {
                Ok((hd, _)) if crate::key::hash_key(hd.key) == h => {}
                _ => {
                    let ino = fs::metadata(&path).map(|m| m.ino()).unwrap_or(0);
                    self.drop_damaged(h, ino)?;
                    crate::log::warn(format_args!("{}: damaged; dropped", path.display()));
                    corrupt += 1;
                }
            }
        }
        let mut report = self.locked(|st| {
            let alive = self.alive_slots(&[]);
            self.reconcile(st, &alive, true)
        })?;
        report.corrupt += corrupt;
        Ok(report)
    }

    fn maybe_compact(&self, st: &mut State) {
        let live = st.entries.len() as u64 * 50 + st.dirs.len() as u64 * 80 + 4096;
        if st.log.offset > COMPACT_MIN && st.log.offset > 4 * live {
            // A failed compaction leaves the old log in place, which stays correct.
            let _ = self.compact(st);
        }
    }

    /// Rewrites the log as a snapshot of the state and marks the old file superseded.
    fn compact(&self, st: &mut State) -> Result<()> {
        let mut remap: HashMap<u32, u32> = HashMap::new();
        let mut dirs: Vec<Box<str>> = Vec::new();
        for m in st.entries.values() {
            remap.entry(m.dir).or_insert_with(|| {
                dirs.push(st.dirs.get(m.dir as usize).cloned().unwrap_or_default());
                (dirs.len() - 1) as u32
            });
        }
        let mut buf = Vec::with_capacity(st.entries.len() * 50 + 4096);
        Record::Header {
            format: log::FORMAT,
        }
        .encode(&mut buf);
        Record::Settings {
            quota: st.quota,
            ignore: st.ignore.to_list(),
        }
        .encode(&mut buf);
        for (id, path) in dirs.iter().enumerate() {
            Record::Dir {
                id: id as u32,
                path: path.to_string(),
            }
            .encode(&mut buf);
        }
        let mut order: Vec<(&u128, &Meta)> = st.entries.iter().collect();
        // Oldest first, so a replay gives recency back in the same order.
        order.sort_unstable_by_key(|(_, m)| m.access);
        for (h, m) in order {
            Record::Put {
                hash: *h,
                ino: m.ino,
                size: m.size,
                dir: remap[&m.dir],
                flags: m.flags,
            }
            .encode(&mut buf);
        }
        for ((slot, base), n) in &st.opens {
            for _ in 0..*n {
                Record::Open {
                    slot: *slot,
                    base: base.clone(),
                }
                .encode(&mut buf);
            }
        }
        let file = Self::write_new_log(&self.root, &buf)?;
        let mut sup = Vec::new();
        Record::Superseded.encode(&mut sup);
        let _ = (&st.log.file).write_all(&sup);
        let ino = file
            .metadata()
            .map_err(|e| io_err("cannot stat", &self.index_path(), e))?
            .ino();
        crate::log::debug(format_args!("index compacted to {} bytes", buf.len()));
        st.log = LogFile {
            file,
            ino,
            offset: buf.len() as u64,
        };
        for m in st.entries.values_mut() {
            m.dir = remap[&m.dir];
        }
        st.dir_ids = dirs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.clone(), i as u32))
            .collect();
        st.dirs = dirs;
        Ok(())
    }

    /// Entries, used bytes and quota as this process sees them after catching up.
    pub fn snapshot(&self) -> Result<(u64, u64, u64)> {
        let st = self.synced()?;
        Ok((st.entry_count(), st.used(), st.quota()))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let slot = self.slot;
        let _ = self.write_locked(true, |st| {
            if st.opens.keys().any(|(s, _)| *s == slot) {
                self.append(st, &[Record::SlotGone { slot }])?;
            }
            Ok(())
        });
        let _ = fs::remove_file(&self.slot_path);
    }
}

fn put_record(hash: u128, m: &Meta) -> Record {
    Record::Put {
        hash,
        ino: m.ino,
        size: m.size,
        dir: m.dir,
        flags: m.flags,
    }
}

fn quota_error(size: u64, used_without: u64, quota: u64) -> Error {
    Error::new(
        Status::QuotaExceeded,
        format!(
            "the entry needs {size} bytes; {used_without} of the quota's {quota} are in use, {} free",
            quota.saturating_sub(used_without)
        ),
    )
}

/// Runs a closure when dropped.
struct Guard<F: FnMut()>(F);
impl<F: FnMut()> Drop for Guard<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}
fn scopeguard<F: FnMut()>(f: F) -> Guard<F> {
    Guard(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{IgnoreParams, Key};

    fn put(s: &Store, url: &str, len: usize, flags: u8, eviction: Eviction) -> Result<()> {
        let key = Key::parse(url, &IgnoreParams::None).unwrap();
        let mut p = s.write_temp(&key, None, &vec![7u8; len], flags)?;
        s.commit(&mut p, Durability::Process, eviction, true)
            .map(|_| ())
    }

    #[test]
    fn pinned_entries_are_never_evicted() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path(), 100_000).unwrap();
        put(
            &s,
            "http://o/pinned",
            60_000,
            entry::FLAG_PINNED,
            Eviction::Lru,
        )
        .unwrap();
        put(&s, "http://o/a", 30_000, 0, Eviction::Lru).unwrap();
        // Needs 60 KB: only `a` (30 KB) is evictable, so it does not fit.
        let e = put(&s, "http://o/b", 60_000, 0, Eviction::Lru).unwrap_err();
        assert_eq!(e.status, Status::QuotaExceeded);
        // 35 KB fits once `a` is evicted; the pinned entry stays.
        put(&s, "http://o/c", 35_000, 0, Eviction::Lru).unwrap();
        let st = s.synced().unwrap();
        let h = |u: &str| Key::parse(u, &IgnoreParams::None).unwrap().hash();
        assert!(st.entries.contains_key(&h("http://o/pinned")));
        assert!(!st.entries.contains_key(&h("http://o/a")));
        assert!(st.entries.contains_key(&h("http://o/c")));
        drop(st);
        // Pinned survives a rebuild from the entry files alone.
        drop(s);
        fs::remove_file(d.path().join("index")).unwrap();
        let s = Store::open(d.path(), 0).unwrap();
        let st = s.synced().unwrap();
        assert_eq!(st.entries[&h("http://o/pinned")].flags, entry::FLAG_PINNED);
    }

    /// Sum of entry file sizes, entry files, and temp files under e/.
    fn on_disk(root: &Path) -> (u64, u64, usize) {
        let (mut bytes, mut files, mut temps) = (0, 0, 0);
        let Ok(subs) = fs::read_dir(root.join("e")) else {
            return (0, 0, 0);
        };
        for sub in subs.flatten() {
            for f in fs::read_dir(sub.path()).unwrap().flatten() {
                let name = f.file_name().into_string().unwrap();
                if name.ends_with(".tmp") {
                    temps += 1;
                } else {
                    bytes += f.metadata().unwrap().len();
                    files += 1;
                }
            }
        }
        (bytes, files, temps)
    }

    #[derive(Debug, Clone, Copy)]
    enum Op {
        PutNewPower,
        PutReplacePower,
        PutNewProcess,
        Read,
        Remove,
    }

    fn run(s: &Store, op: Op) -> Result<()> {
        let k = |u: &str| Key::parse(u, &IgnoreParams::None).unwrap();
        let put_at = |u: &str, d: Durability| {
            let key = k(u);
            let mut p = s.write_temp(&key, None, &[9u8; 700], 0)?;
            s.commit(&mut p, d, Eviction::None, true).map(|_| ())
        };
        match op {
            Op::PutNewPower => put_at("http://o/new", Durability::Power),
            Op::PutReplacePower => put_at("http://o/replace", Durability::Power),
            Op::PutNewProcess => put_at("http://o/new", Durability::Process),
            Op::Read => {
                let key = k("http://o/keep");
                s.read(key.as_str(), key.hash()).map(|_| ())
            }
            Op::Remove => s.remove(k("http://o/victim").hash()).map(|_| ()),
        }
    }

    #[test]
    fn a_fault_at_any_call_site_is_reported_and_damages_nothing() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(d.path(), 1 << 20).unwrap();
        let keep = Key::parse("http://o/keep", &IgnoreParams::None).unwrap();
        put(&s, "http://o/keep", 1000, 0, Eviction::None).unwrap();
        let mut reached = 0;
        for op in [
            Op::PutNewPower,
            Op::PutReplacePower,
            Op::PutNewProcess,
            Op::Read,
            Op::Remove,
        ] {
            for site in [
                Site::Open,
                Site::Write,
                Site::Fsync,
                Site::Rename,
                Site::Read,
                Site::Unlink,
                Site::DirFsync,
            ] {
                for (errno, name) in [
                    (libc::EIO, "EIO"),
                    (libc::ENOSPC, "ENOSPC"),
                    (libc::EACCES, "EACCES"),
                ] {
                    for skip in 0.. {
                        // Each operation's preconditions.
                        let _ = s.remove(
                            Key::parse("http://o/new", &IgnoreParams::None)
                                .unwrap()
                                .hash(),
                        );
                        put(&s, "http://o/replace", 300, 0, Eviction::None).unwrap();
                        put(&s, "http://o/victim", 200, 0, Eviction::None).unwrap();
                        sys::faults::inject_after(site, errno, skip, 1);
                        let r = run(&s, op);
                        let hit = !sys::faults::pending(site);
                        sys::faults::clear();
                        if !hit {
                            break;
                        }
                        reached += 1;
                        if let Err(e) = &r {
                            assert_eq!(e.status, Status::Io, "{op:?} {site:?}#{skip}: {e}");
                            assert!(e.message.contains(name), "{op:?} {site:?}#{skip}: {e}");
                        }
                        // What was stored is intact, accounting matches the files, nothing
                        // half-written is left, and the store still works.
                        let l = s.read(keep.as_str(), keep.hash()).unwrap().unwrap();
                        assert_eq!(&l.buf[l.body], &[7u8; 1000][..], "{op:?} {site:?}#{skip}");
                        let st = s.synced().unwrap();
                        let (bytes, files, temps) = on_disk(d.path());
                        assert_eq!(
                            (st.used, st.entries.len() as u64, temps),
                            (bytes, files, 0),
                            "{op:?} {site:?}#{skip} {errno}"
                        );
                        drop(st);
                        run(&s, op).unwrap_or_else(|e| panic!("{op:?} after a fault: {e}"));
                    }
                }
            }
        }
        assert!(reached > 40, "call sites reached: {reached}");
        println!("{reached} faults injected at reachable call sites");
        // A fresh open agrees.
        let used = s.synced().unwrap().used;
        drop(s);
        let s = Store::open(d.path(), 0).unwrap();
        assert_eq!(s.synced().unwrap().used, used);
    }
}
