//! The chunk timeline of one stream: the `c` elements of a `StreamIndex` resolved by the
//! rules of [MS-SSTR] §2.2.2.6 / §3.1.5.1 and stored compactly as runs.
//!
//! Rules (SMOOTH.md, "Computing chunk start times and durations"):
//! 1. the first `c` without `t` starts at 0;
//! 2. a later `c` without `t` starts at `prev.t + prev.d × prev.r`;
//! 3. a `c` without `d` lasts until the next `c`'s `t` (which must then be present);
//! 4. invalid: the last `c` without `d`, a `c` with neither `t` nor `d`, a `t` that goes
//!    backwards, `r > 1` without `d`, `r = 0`;
//! 5. `r` is one-based: `r="3"` is three chunks at `t`, `t+d`, `t+2d`;
//! 6. the `Chunks` attribute is never trusted: the count is that of the expanded list.
//!
//! Beyond the spec, for a total model: chunk start times may never decrease (a `t` earlier
//! than the last chunk of the previous run is refused), every chunk's end must fit in 64
//! bits, and the limits [`MAX_CHUNKS_PER_STREAM`] and [`MAX_CHUNKS_TOTAL`] are checked by
//! arithmetic before anything is stored, so `r="10000000"` costs nothing.
//!
//! [`MAX_CHUNKS_PER_STREAM`]: super::limits::MAX_CHUNKS_PER_STREAM
//! [`MAX_CHUNKS_TOTAL`]: super::limits::MAX_CHUNKS_TOTAL

use super::limits::MAX_CHUNKS_PER_STREAM;
use super::{bail, Result};

/// `count` chunks of equal `duration` back to back from `start`: chunk `first + i` starts at
/// `start + i × duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRun {
    /// Start time of the run's first chunk, in the stream's TimeScale units.
    pub start: u64,
    /// Duration of each chunk of the run.
    pub duration: u64,
    /// Number of chunks in the run (at least 1).
    pub count: u32,
    /// Index (in the stream) of the run's first chunk: the prefix sum of earlier counts.
    pub first: u32,
}

impl ChunkRun {
    /// End of the run's last chunk (cannot overflow: checked when the run was built).
    pub fn end(&self) -> u64 {
        self.start
            .saturating_add(self.duration.saturating_mul(u64::from(self.count)))
    }

    /// Start of the run's last chunk.
    pub fn last_start(&self) -> u64 {
        self.start
            .saturating_add(self.duration.saturating_mul(u64::from(self.count - 1)))
    }
}

/// One chunk: its start time and duration in the stream's TimeScale units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Start time.
    pub start: u64,
    /// Duration, in the same units.
    pub duration: u64,
}

/// The resolved chunk list of a stream. Look-up of chunk `k` is a binary search over the
/// runs, O(log runs); consecutive `c` elements of equal duration share one run, so a
/// typical on-demand stream is one or two runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timeline {
    runs: Vec<ChunkRun>,
    len: u32,
}

impl Timeline {
    /// Number of chunks (after expanding `r`).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when the stream lists no chunk.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The runs, in time order.
    pub fn runs(&self) -> &[ChunkRun] {
        &self.runs
    }

    /// Chunk `k` (zero-based), or `None` past the end.
    pub fn chunk(&self, k: usize) -> Option<Chunk> {
        let k = u32::try_from(k).ok()?;
        if k >= self.len {
            return None;
        }
        // Last run whose first chunk is <= k.
        let i = self.runs.partition_point(|r| r.first <= k).checked_sub(1)?;
        let run = self.runs.get(i)?;
        let offset = u64::from(k - run.first);
        Some(Chunk {
            start: run.start.checked_add(run.duration.checked_mul(offset)?)?,
            duration: run.duration,
        })
    }

    /// Index of the chunk that starts exactly at `time` (the `{start time}` of a fragment
    /// URL), or `None`. When several chunks start at the same time the first is given.
    pub fn find(&self, time: u64) -> Option<usize> {
        // First run whose last chunk starts at or after `time`.
        let i = self.runs.partition_point(|r| r.last_start() < time);
        let run = self.runs.get(i)?;
        if time < run.start {
            return None;
        }
        let delta = time - run.start;
        let offset = match delta.checked_div(run.duration) {
            Some(q) if delta % run.duration == 0 => q,
            // Zero-duration run: all its chunks start at run.start.
            None if delta == 0 => 0,
            _ => return None,
        };
        let index = u64::from(run.first).checked_add(offset)?;
        usize::try_from(index).ok()
    }

    /// Iterates over every chunk in order.
    pub fn iter(&self) -> impl Iterator<Item = Chunk> + '_ {
        self.runs.iter().flat_map(|r| {
            (0..u64::from(r.count)).map(move |i| Chunk {
                start: r.start.saturating_add(r.duration.saturating_mul(i)),
                duration: r.duration,
            })
        })
    }

    /// Σd over all chunks (the `Σd` of the Duration = 0 rule), saturating.
    pub fn total_duration(&self) -> u64 {
        let sum: u128 = self
            .runs
            .iter()
            .map(|r| u128::from(r.duration) * u128::from(r.count))
            .sum();
        u64::try_from(sum).unwrap_or(u64::MAX)
    }

    /// Start of the first chunk and end of the last one, if any.
    pub fn span(&self) -> Option<(u64, u64)> {
        Some((self.runs.first()?.start, self.runs.last()?.end()))
    }
}

/// One `c` element as written: each attribute optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawChunk {
    /// `t`: start time.
    pub t: Option<u64>,
    /// `d`: duration.
    pub d: Option<u64>,
    /// `r`: one-based repeat count.
    pub r: Option<u64>,
}

/// Resolves `c` elements one at a time, in document order, into a [`Timeline`].
///
/// Holds at most one unresolved element (one whose `d` waits for the next `t`), so memory
/// is the runs and nothing else.
#[derive(Debug, Default)]
pub struct TimelineBuilder {
    runs: Vec<ChunkRun>,
    len: u64,
    /// Number of `c` elements seen (for error messages, 0-based index of the next one).
    seen: u64,
    /// Start of the previous element (for the "t decreases" rule).
    prev_t: Option<u64>,
    /// Where the next element starts when it has no `t`: `None` before the first element
    /// (then 0 applies) and while an element waits for its `d`.
    next_t: Option<u64>,
    /// An element without `d` (so `r` = 1) waiting for the next `t`.
    pending: Option<u64>,
}

impl TimelineBuilder {
    /// An empty builder.
    pub fn new() -> TimelineBuilder {
        TimelineBuilder::default()
    }

    /// Number of chunks accepted so far (the pending one included).
    pub fn chunk_count(&self) -> u64 {
        self.len + u64::from(self.pending.is_some())
    }

    /// Adds one `c` element. `budget` is how many more chunks the whole manifest may still
    /// hold (the [`MAX_CHUNKS_TOTAL`](super::limits::MAX_CHUNKS_TOTAL) limit).
    pub fn push(&mut self, c: RawChunk, budget: u64) -> Result<()> {
        let n = self.seen;
        self.seen += 1;
        if c.t.is_none() && c.d.is_none() {
            bail!("c element #{n} has neither t nor d");
        }
        let r = c.r.unwrap_or(1);
        if r == 0 {
            bail!("c element #{n} has r=\"0\" (r is one-based: the number of chunks)");
        }
        if r > 1 && c.d.is_none() {
            bail!("c element #{n} has r=\"{r}\" but no d");
        }
        let total = self.chunk_count().saturating_add(r);
        if total > MAX_CHUNKS_PER_STREAM {
            bail!(
                "stream has more than {MAX_CHUNKS_PER_STREAM} chunks (limit MAX_CHUNKS_PER_STREAM; \
                 c element #{n} with r=\"{r}\" brings it to {total})"
            );
        }
        if total > budget {
            bail!(
                "manifest has more than {} chunks in all streams (limit MAX_CHUNKS_TOTAL)",
                super::limits::MAX_CHUNKS_TOTAL
            );
        }

        let t = match (c.t, self.pending, self.next_t, self.seen) {
            (Some(t), _, _, _) => t,
            (None, Some(_), _, _) => {
                bail!("c element #{n} has no t, but the one before it has no d")
            }
            (None, None, Some(next), _) => next,
            (None, None, None, 1) => 0,
            (None, None, None, _) => {
                bail!("c element #{n}: start time does not fit in 64 bits")
            }
        };
        if let Some(prev) = self.prev_t {
            if t < prev {
                bail!("c element #{n}: t={t} is before the previous c's t={prev}");
            }
        }
        if let Some(last) = self.runs.last() {
            if t < last.last_start() {
                bail!(
                    "c element #{n}: t={t} is before the previous chunk's start {}",
                    last.last_start()
                );
            }
        }
        if let Some(pending_t) = self.pending.take() {
            // t >= pending_t was checked above (pending_t is prev_t).
            self.add_run(pending_t, t - pending_t, 1, n.saturating_sub(1))?;
        }
        self.prev_t = Some(t);
        match c.d {
            Some(d) => {
                self.add_run(t, d, r, n)?;
                // None when the end overflows: a following c without t is then refused.
                self.next_t = d.checked_mul(r).and_then(|x| t.checked_add(x));
            }
            None => {
                self.pending = Some(t);
                self.next_t = None;
            }
        }
        Ok(())
    }

    fn add_run(&mut self, start: u64, duration: u64, count: u64, n: u64) -> Result<()> {
        let end = duration
            .checked_mul(count)
            .and_then(|x| start.checked_add(x));
        if end.is_none() {
            bail!("c element #{n}: chunk times overflow 64 bits");
        }
        // Both bounded by MAX_CHUNKS_PER_STREAM, checked in push.
        let (Ok(count32), Ok(first)) = (u32::try_from(count), u32::try_from(self.len)) else {
            bail!("c element #{n}: too many chunks");
        };
        self.len += count;
        if let Some(last) = self.runs.last_mut() {
            if last.duration == duration && last.end() == start {
                last.count = last.count.saturating_add(count32);
                return Ok(());
            }
        }
        self.runs.push(ChunkRun {
            start,
            duration,
            count: count32,
            first,
        });
        Ok(())
    }

    /// Finishes the list: refused when the last `c` has no `d`.
    pub fn finish(self) -> Result<Timeline> {
        if self.pending.is_some() {
            bail!(
                "the last c element (#{}) has no d",
                self.seen.saturating_sub(1)
            );
        }
        let len = u32::try_from(self.len)
            .map_err(|_| super::SmoothError::new("stream has too many chunks"))?;
        Ok(Timeline {
            runs: self.runs,
            len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn c(t: Option<u64>, d: Option<u64>, r: Option<u64>) -> RawChunk {
        RawChunk { t, d, r }
    }

    fn build(list: &[RawChunk]) -> Result<Timeline> {
        let mut b = TimelineBuilder::new();
        for &x in list {
            b.push(x, u64::MAX)?;
        }
        b.finish()
    }

    fn starts(t: &Timeline) -> Vec<(u64, u64)> {
        t.iter().map(|c| (c.start, c.duration)).collect()
    }

    #[test]
    fn first_missing_t_is_zero_and_duration_coding_accumulates() {
        let t = build(&[c(None, Some(10), None), c(None, Some(20), None)]).unwrap();
        assert_eq!(starts(&t), [(0, 10), (10, 20)]);
        assert_eq!(t.total_duration(), 30);
    }

    #[test]
    fn start_time_coding_takes_d_from_next_t() {
        let t = build(&[
            c(Some(100), None, None),
            c(Some(130), None, None),
            c(Some(170), Some(5), None),
        ])
        .unwrap();
        assert_eq!(starts(&t), [(100, 30), (130, 40), (170, 5)]);
    }

    #[test]
    fn r_is_one_based_and_implicit_t_follows_prev_d_times_r() {
        let t = build(&[c(Some(50), Some(10), Some(3)), c(None, Some(7), None)]).unwrap();
        assert_eq!(starts(&t), [(50, 10), (60, 10), (70, 10), (80, 7)]);
        assert_eq!(t.len(), 4);
        // r="1" is one chunk, not two.
        let t = build(&[c(None, Some(10), Some(1))]).unwrap();
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn explicit_t_after_a_gap_is_kept() {
        let t = build(&[c(Some(0), Some(10), None), c(Some(100), Some(10), None)]).unwrap();
        assert_eq!(starts(&t), [(0, 10), (100, 10)]);
        assert_eq!(t.runs().len(), 2);
    }

    #[test]
    fn equal_durations_share_a_run_and_lookup_is_exact() {
        let mut list = vec![c(None, Some(10), None); 100];
        list.push(c(None, Some(3), Some(5)));
        list.push(c(None, Some(10), Some(2)));
        let t = build(&list).unwrap();
        assert_eq!(t.runs().len(), 3);
        assert_eq!(t.len(), 107);
        let all: Vec<_> = t.iter().collect();
        for (k, want) in all.iter().enumerate() {
            assert_eq!(t.chunk(k), Some(*want), "chunk {k}");
            assert_eq!(t.find(want.start), Some(k), "find {k}");
        }
        assert_eq!(t.chunk(107), None);
        assert_eq!(t.chunk(usize::MAX), None);
        assert_eq!(t.find(5), None, "not a chunk start");
        assert_eq!(t.find(1_000_000), None, "past the end");
        assert_eq!(t.span(), Some((0, 1000 + 15 + 20)));
    }

    #[test]
    fn invalid_lists_are_refused() {
        let cases: &[(&[RawChunk], &str)] = &[
            (&[c(None, None, None)], "neither t nor d"),
            (&[c(Some(0), None, None)], "last c element"),
            (
                &[c(Some(0), Some(1), None), c(Some(5), None, None)],
                "last c",
            ),
            (
                &[c(Some(10), Some(1), None), c(Some(5), Some(1), None)],
                "before",
            ),
            (
                &[c(Some(0), None, Some(2)), c(Some(10), Some(1), None)],
                "no d",
            ),
            (&[c(Some(0), Some(1), Some(0))], "r=\"0\""),
            (&[c(Some(0), None, None), c(None, Some(1), None)], "no t"),
            // t inside the previous run: the expanded starts would go backwards.
            (
                &[c(Some(0), Some(10), Some(5)), c(Some(20), Some(1), None)],
                "before",
            ),
            (&[c(Some(u64::MAX), Some(2), None)], "overflow"),
            (
                &[
                    c(Some(u64::MAX - 10), Some(10), None),
                    c(None, Some(1), None),
                ],
                "64 bits",
            ),
        ];
        for (list, want) in cases {
            let err = build(list).expect_err(want);
            assert!(err.0.contains(want), "{list:?}: {err} (want {want})");
        }
    }

    #[test]
    fn ten_million_chunks_refused_by_arithmetic() {
        let start = Instant::now();
        let err = build(&[c(None, Some(1), Some(10_000_000))]).unwrap_err();
        assert!(err.0.contains("MAX_CHUNKS_PER_STREAM"), "{err}");
        let err = build(&[c(None, Some(1), Some(u64::MAX))]).unwrap_err();
        assert!(err.0.contains("MAX_CHUNKS_PER_STREAM"), "{err}");
        assert!(start.elapsed() < Duration::from_millis(5));
        // Exactly the limit is fine, in one run.
        let t = build(&[c(None, Some(1), Some(MAX_CHUNKS_PER_STREAM))]).unwrap();
        assert_eq!(t.len() as u64, MAX_CHUNKS_PER_STREAM);
        assert_eq!(t.runs().len(), 1);
        assert_eq!(
            t.chunk(999_999),
            Some(Chunk {
                start: 999_999,
                duration: 1
            })
        );
    }

    #[test]
    fn total_budget_is_enforced() {
        let mut b = TimelineBuilder::new();
        let err = b.push(c(None, Some(1), Some(11)), 10).unwrap_err();
        assert!(err.0.contains("MAX_CHUNKS_TOTAL"), "{err}");
    }

    #[test]
    fn zero_durations_and_duplicate_starts_are_modelled() {
        let t = build(&[c(Some(0), Some(0), Some(2)), c(None, Some(4), None)]).unwrap();
        assert_eq!(starts(&t), [(0, 0), (0, 0), (0, 4)]);
        assert_eq!(t.find(0), Some(0));
    }
}
