//! The command line: `smoothcache [--dir DIR] COMMAND [ARGS]`, parsed by hand so every mistake
//! is reported on one line in the tool's own format (see `Failure`).

use smoothcache::fetch::download::Selection;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Download(DownloadArgs),
    Ls,
    Verify {
        url: Option<String>,
        repair: bool,
    },
    Rm {
        url: String,
    },
    Stats,
    Get {
        url: String,
    },
    Serve(ServeArgs),
    /// `url MANIFEST_URL [--server ADDR]`: the local URL under a running server.
    Url {
        url: String,
        server: Option<SocketAddr>,
    },
    /// `--help`, `-h` or `help [COMMAND]`: the usage of one command, or of all.
    Help(Option<&'static str>),
    Version,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DownloadArgs {
    pub url: String,
    pub selection: Selection,
    pub parallel: Option<usize>,
    pub start: f64,
    pub end: f64,
    pub quota: Option<u64>,
    /// `--durability process` skips the final flush; the default is the library's (power).
    pub process_durability: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServeArgs {
    /// `--listen`; the library's default (127.0.0.1, a free port) when None.
    pub listen: Option<SocketAddr>,
    pub fetch_through: bool,
    pub max_connections: Option<usize>,
    /// `--quota` (only with `--fetch-through`, which stores).
    pub quota: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    pub dir: Option<PathBuf>,
    pub command: Command,
}

/// A usage mistake: which command it concerns (`None` before one is known) and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageError {
    pub command: Option<&'static str>,
    pub message: String,
}

pub const COMMANDS: [&str; 8] = [
    "download", "ls", "verify", "rm", "stats", "get", "serve", "url",
];

pub const USAGE: &str = "\
usage: smoothcache [--dir DIR] COMMAND [ARGS]

An offline cache for Microsoft Smooth Streaming.

Commands:
  download URL   download a whole presentation (URL is its .../Manifest) for offline use
  ls             list the downloaded presentations
  verify [URL]   check the checksums of a presentation, or of the whole cache
  rm URL         remove a presentation (a .../Manifest URL) or one entry
  stats          the cache's quota, size and counters
  get URL        write a stored body to stdout
  serve          serve the cache over HTTP on 127.0.0.1 to unmodified players (GStreamer,
                 VLC): a forward proxy and local URLs; prints its address first
  url URL        the local URL under a running `serve` at which a player plays URL

Options (before or after the command):
  --dir DIR      the cache directory (default: $SMOOTHCACHE_DIR, else
                 $XDG_CACHE_HOME/smoothcache, else ~/.cache/smoothcache)
  -h, --help     this help, or a command's (smoothcache download --help)
  --version      the version

Exit status: 0 done (also `serve` stopped by SIGINT or SIGTERM); 1 failed, not found, or
damage left unrepaired; 2 bad arguments; 130 download interrupted (Ctrl-C).
Failures print one line: smoothcache: WHAT: STATUS: MESSAGE.
";

const USAGE_DOWNLOAD: &str = "\
usage: smoothcache download URL [OPTIONS]

Downloads every fragment a presentation's manifest (URL, ending in /Manifest) lists, for
offline use. What is already stored is skipped, so running it again after Ctrl-C, a crash or
a failure fetches only the rest. Everything downloaded is pinned (never evicted).

Options:
  --quality all|highest|lowest   which quality levels of each stream (default: all)
  --max-bitrate N                per stream, the highest level at or under N bits/s
                                 (the lowest when none is)
  --parallel N                   requests in flight at once (default: 4)
  --start SECONDS                only fragments overlapping [start, end)
  --end SECONDS                  (default: from 0 to the end)
  --quota BYTES                  grow the cache's quota to BYTES first (suffixes K, M, G, T:
                                 powers of 1024); the quota never shrinks; a new cache has 1 MiB
  --durability power|process     power (default): flushed to disk once at the end, survives a
                                 power cut; process: no flush, survives a crash of the process
  --dir DIR                      the cache directory

Progress goes to stderr: one redrawn line on a terminal, else a line every 10% (and every
5 s while nothing else is printed). Ctrl-C cancels, keeps what was stored, exits with 130.
";

const USAGE_LS: &str = "\
usage: smoothcache ls [--dir DIR]

Lists the downloaded presentations: whether complete or partial, fragments stored of those
expected, bytes on disk, whether pinned, and the manifest URL.
";

const USAGE_VERIFY: &str = "\
usage: smoothcache verify [URL] [--repair] [--dir DIR]

With URL (a presentation's .../Manifest): re-reads every fragment its download selected and
checks its checksum; damaged ones are dropped. With --repair, downloads again what is missing
or damaged.
Without URL: checks every presentation the same way, then every entry of the cache, and makes
the index agree with the files. With --repair, presentations are downloaded again where
damaged; other damaged entries are dropped (a later fetch downloads them again).

Exit status 1 when damage was found and not repaired.
";

const USAGE_RM: &str = "\
usage: smoothcache rm URL [--dir DIR]

Removes a whole presentation when URL is its .../Manifest (the manifest, every fragment, the
download record), else the one entry of URL. Exit status 1 when nothing was stored.
";

const USAGE_STATS: &str = "\
usage: smoothcache stats [--dir DIR]

Prints the cache's quota, bytes used and entries, and this process's counters (hits, misses,
persists, rejected, evictions, corrupt), which a fresh command-line process starts at 0.
";

const USAGE_GET: &str = "\
usage: smoothcache get URL [--dir DIR]

Writes the stored body of URL to stdout, byte for byte. Exit status 1 when it is not stored.
";

const USAGE_SERVE: &str = "\
usage: smoothcache serve [--listen ADDR] [--fetch-through [--quota BYTES]]
                         [--max-connections N] [--dir DIR]

Serves what the cache holds over HTTP, so unmodified players play offline. Two ways in:
  - a forward proxy: run the player with http_proxy=http://ADDR and the original URLs;
  - local URLs: http://ADDR/http/origin/.../Name.ism/Manifest (`smoothcache url` prints them).
Stored bodies are served with their content type, Content-Length, ETag, HEAD and byte ranges;
what is not stored is a 404. When only some quality levels of a presentation are fully stored,
its manifest is served trimmed to those. Requests only ever become cache keys: no request can
name a file.

The first line on stdout is the address listened on, e.g. 127.0.0.1:41234 (flushed at once,
for scripts); the address is also written to DIR/serve.addr for `smoothcache url`. It serves
until SIGINT (Ctrl-C), SIGTERM or SIGHUP, then stops, removes DIR/serve.addr and exits with 0.

Options:
  --listen ADDR          IP:port to listen on (default 127.0.0.1:0: loopback, a free port).
                         Any other address is used as given; 0.0.0.0 exposes the cache to
                         the network
  --fetch-through        fetch what is not stored from the origin, store it and serve it (a
                         first online viewing fills the cache); makes the cache if missing
  --quota BYTES          with --fetch-through: grow the cache's quota to BYTES first
  --max-connections N    connections served at once (default 256); more are refused
  --dir DIR              the cache directory
";

const USAGE_URL: &str = "\
usage: smoothcache url MANIFEST_URL [--server ADDR] [--dir DIR]

Prints the local URL at which a player plays MANIFEST_URL (ending in /Manifest) through a
running `smoothcache serve`: http://ADDR/http/origin/.../Name.ism/Manifest. ADDR is --server
(IP:port, as `serve` printed it), else the address the server running on the cache wrote to
DIR/serve.addr. Exit status 1 when no server is running there.
";

fn command_usage(cmd: &str) -> &'static str {
    match cmd {
        "download" => USAGE_DOWNLOAD,
        "ls" => USAGE_LS,
        "verify" => USAGE_VERIFY,
        "rm" => USAGE_RM,
        "stats" => USAGE_STATS,
        "get" => USAGE_GET,
        "serve" => USAGE_SERVE,
        "url" => USAGE_URL,
        _ => USAGE,
    }
}

pub fn usage(cmd: Option<&str>) -> &'static str {
    cmd.map_or(USAGE, command_usage)
}

fn err(command: Option<&'static str>, message: impl Into<String>) -> UsageError {
    UsageError {
        command,
        message: message.into(),
    }
}

/// Parses a byte count: digits with an optional K, M, G or T suffix (powers of 1024, an
/// optional `i`/`iB`/`B` after it).
pub fn parse_bytes(s: &str) -> Option<u64> {
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits_end == 0 {
        return None;
    }
    let n: u64 = t[..digits_end].parse().ok()?;
    let unit = t[digits_end..].to_ascii_lowercase();
    let shift = match unit.as_str() {
        "" | "b" => 0,
        "k" | "ki" | "kib" | "kb" => 10,
        "m" | "mi" | "mib" | "mb" => 20,
        "g" | "gi" | "gib" | "gb" => 30,
        "t" | "ti" | "tib" | "tb" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

fn parse_quota(cmd: &'static str, v: &str) -> Result<u64, UsageError> {
    parse_bytes(v).filter(|&n| n > 0).ok_or_else(|| {
        err(
            Some(cmd),
            format!("--quota wants a size in bytes (e.g. 2000000000 or 2G), not {v:?}"),
        )
    })
}

/// The most `--max-connections` accepts (the C ABI's field is 32 bits; far above any use).
const MAX_CONNECTIONS: usize = 1_000_000;

/// An `IP:port` address (`127.0.0.1:8080`, `[::1]:8080`).
fn parse_addr(cmd: &'static str, opt: &str, v: &str) -> Result<SocketAddr, UsageError> {
    v.parse().map_err(|_| {
        err(
            Some(cmd),
            format!("{opt} wants an IP:port address (e.g. 127.0.0.1:8080), not {v:?}"),
        )
    })
}

fn parse_seconds(cmd: &'static str, opt: &str, v: &str) -> Result<f64, UsageError> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(err(
            Some(cmd),
            format!("{opt} wants a number of seconds (0 or more), not {v:?}"),
        )),
    }
}

/// The options each command takes (besides `--dir`, `--help`), and whether each wants a value.
fn options_of(cmd: &str) -> &'static [(&'static str, bool)] {
    match cmd {
        "download" => &[
            ("--quality", true),
            ("--max-bitrate", true),
            ("--parallel", true),
            ("--start", true),
            ("--end", true),
            ("--quota", true),
            ("--durability", true),
        ],
        "verify" => &[("--repair", false)],
        "serve" => &[
            ("--listen", true),
            ("--fetch-through", false),
            ("--max-connections", true),
            ("--quota", true),
        ],
        "url" => &[("--server", true)],
        _ => &[],
    }
}

fn canonical_command(s: &str) -> Option<&'static str> {
    COMMANDS.iter().copied().find(|c| *c == s)
}

/// Parses the arguments after the program name.
pub fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Args, UsageError> {
    let mut dir: Option<PathBuf> = None;
    let mut command: Option<&'static str> = None;
    let mut help = false;
    let mut version = false;
    let mut positional: Vec<String> = Vec::new();
    let mut opts: Vec<(&'static str, Option<String>)> = Vec::new();
    let mut only_positional = false;
    let mut it = argv.into_iter();
    let utf8 = |a: OsString, command: Option<&'static str>| {
        a.into_string().map_err(|a| {
            err(
                command,
                format!("argument {a:?} is not valid UTF-8 (only --dir accepts any bytes)"),
            )
        })
    };
    while let Some(raw) = it.next() {
        // --dir takes a path, which need not be UTF-8.
        if !only_positional {
            if raw == "--dir" {
                let v = it
                    .next()
                    .ok_or_else(|| err(command, "--dir wants a directory"))?;
                if v.is_empty() {
                    return Err(err(command, "--dir wants a directory, not an empty string"));
                }
                dir = Some(PathBuf::from(v));
                continue;
            }
            if let Some(v) = raw.as_bytes().strip_prefix(b"--dir=") {
                if v.is_empty() {
                    return Err(err(command, "--dir wants a directory, not an empty string"));
                }
                dir = Some(PathBuf::from(OsString::from_vec(v.to_vec())));
                continue;
            }
        }
        let a = utf8(raw, command)?;
        if only_positional || !a.starts_with('-') || a == "-" {
            if command.is_none() {
                if a == "help" {
                    help = true;
                    // `help COMMAND`: the next positional names the command.
                    if let Some(next) = it.next() {
                        let next = utf8(next, None)?;
                        command = Some(canonical_command(&next).ok_or_else(|| {
                            err(None, format!("no command {next:?}; see smoothcache --help"))
                        })?);
                    }
                    continue;
                }
                command = Some(canonical_command(&a).ok_or_else(|| {
                    err(
                        None,
                        format!(
                            "unknown command {a:?}; the commands are {}",
                            COMMANDS.join(", ")
                        ),
                    )
                })?);
            } else {
                positional.push(a);
            }
            continue;
        }
        match a.as_str() {
            "--" => {
                only_positional = true;
                continue;
            }
            "-h" | "--help" => {
                help = true;
                continue;
            }
            "--version" | "-V" => {
                version = true;
                continue;
            }
            _ => {}
        }
        let Some(cmd) = command else {
            return Err(err(
                None,
                format!("unknown option {a}; see smoothcache --help"),
            ));
        };
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (a.clone(), None),
        };
        let Some(&(opt, wants_value)) = options_of(cmd).iter().find(|(o, _)| *o == name) else {
            return Err(err(
                Some(cmd),
                format!("unknown option {name}; see smoothcache {cmd} --help"),
            ));
        };
        let value = match (wants_value, inline) {
            (true, Some(v)) => Some(v),
            (true, None) => Some(
                it.next()
                    .map(|v| utf8(v, Some(cmd)))
                    .transpose()?
                    .ok_or_else(|| err(Some(cmd), format!("{opt} wants a value")))?,
            ),
            (false, Some(_)) => return Err(err(Some(cmd), format!("{opt} takes no value"))),
            (false, None) => None,
        };
        if opts.iter().any(|(o, _)| *o == opt) {
            return Err(err(Some(cmd), format!("{opt} is given twice")));
        }
        opts.push((opt, value));
    }

    if help {
        return Ok(Args {
            dir,
            command: Command::Help(command),
        });
    }
    if version {
        return Ok(Args {
            dir,
            command: Command::Version,
        });
    }
    let Some(cmd) = command else {
        return Err(err(
            None,
            "no command given; the commands are download, ls, verify, rm, stats, get, serve, url (see smoothcache --help)",
        ));
    };
    let value = |name: &str| -> Option<&str> {
        opts.iter()
            .find(|(o, _)| *o == name)
            .and_then(|(_, v)| v.as_deref())
    };
    let flag = |name: &str| opts.iter().any(|(o, _)| *o == name);
    let url_args = |max: usize, min: usize| -> Result<Vec<String>, UsageError> {
        if positional.len() < min {
            return Err(err(
                Some(cmd),
                format!("a URL is needed: smoothcache {cmd} URL"),
            ));
        }
        if positional.len() > max {
            return Err(err(
                Some(cmd),
                format!(
                    "unexpected argument {:?}; see smoothcache {cmd} --help",
                    positional[max]
                ),
            ));
        }
        Ok(positional.clone())
    };

    let command = match cmd {
        "download" => {
            let url = url_args(1, 1)?.remove(0);
            let mut selection = match value("--quality") {
                None | Some("all") => Selection::All,
                Some("highest") => Selection::Highest,
                Some("lowest") => Selection::Lowest,
                Some(v) => {
                    return Err(err(
                        Some(cmd),
                        format!("--quality wants all, highest or lowest, not {v:?}"),
                    ))
                }
            };
            if let Some(v) = value("--max-bitrate") {
                let n = parse_bytes_like_rate(v).ok_or_else(|| {
                    err(
                        Some(cmd),
                        format!(
                            "--max-bitrate wants bits per second (e.g. 800000 or 800k), not {v:?}"
                        ),
                    )
                })?;
                if selection != Selection::All || value("--quality").is_some() {
                    return Err(err(
                        Some(cmd),
                        "--max-bitrate and --quality both pick quality levels; give one",
                    ));
                }
                selection = Selection::MaxBitrate(n);
            }
            let parallel = value("--parallel")
                .map(|v| match v.parse::<usize>() {
                    Ok(n) if (1..=64).contains(&n) => Ok(n),
                    _ => Err(err(
                        Some(cmd),
                        format!("--parallel wants a number from 1 to 64, not {v:?}"),
                    )),
                })
                .transpose()?;
            let start = value("--start")
                .map(|v| parse_seconds(cmd, "--start", v))
                .transpose()?
                .unwrap_or(0.0);
            let end = value("--end")
                .map(|v| parse_seconds(cmd, "--end", v))
                .transpose()?;
            if let Some(e) = end {
                if e <= start {
                    return Err(err(
                        Some(cmd),
                        format!("--end ({e}) must be after --start ({start})"),
                    ));
                }
            }
            let quota = value("--quota").map(|v| parse_quota(cmd, v)).transpose()?;
            let process_durability = match value("--durability") {
                None | Some("power") => false,
                Some("process") => true,
                Some(v) => {
                    return Err(err(
                        Some(cmd),
                        format!("--durability wants power or process, not {v:?}"),
                    ))
                }
            };
            Command::Download(DownloadArgs {
                url,
                selection,
                parallel,
                start,
                // The library reads `end <= start` as "to the end".
                end: end.unwrap_or(0.0),
                quota,
                process_durability,
            })
        }
        "ls" => {
            url_args(0, 0)?;
            Command::Ls
        }
        "stats" => {
            url_args(0, 0)?;
            Command::Stats
        }
        "verify" => Command::Verify {
            url: url_args(1, 0)?.pop(),
            repair: flag("--repair"),
        },
        "rm" => Command::Rm {
            url: url_args(1, 1)?.remove(0),
        },
        "get" => Command::Get {
            url: url_args(1, 1)?.remove(0),
        },
        "serve" => {
            url_args(0, 0)?;
            let listen = value("--listen")
                .map(|v| parse_addr(cmd, "--listen", v))
                .transpose()?;
            let max_connections = value("--max-connections")
                .map(|v| match v.parse::<usize>() {
                    Ok(n) if (1..=MAX_CONNECTIONS).contains(&n) => Ok(n),
                    _ => Err(err(
                        Some(cmd),
                        format!(
                            "--max-connections wants a number from 1 to {MAX_CONNECTIONS}, not {v:?}"
                        ),
                    )),
                })
                .transpose()?;
            let fetch_through = flag("--fetch-through");
            let quota = value("--quota").map(|v| parse_quota(cmd, v)).transpose()?;
            if quota.is_some() && !fetch_through {
                return Err(err(
                    Some(cmd),
                    "--quota only matters with --fetch-through (serving alone stores nothing)",
                ));
            }
            Command::Serve(ServeArgs {
                listen,
                fetch_through,
                max_connections,
                quota,
            })
        }
        "url" => Command::Url {
            url: url_args(1, 1)?.remove(0),
            server: value("--server")
                .map(|v| parse_addr(cmd, "--server", v))
                .transpose()?,
        },
        _ => unreachable!("every command of COMMANDS is handled"),
    };
    Ok(Args { dir, command })
}

/// A bitrate: digits with an optional k, m or g suffix (powers of 1000, as bitrates are).
fn parse_bytes_like_rate(s: &str) -> Option<u64> {
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits_end == 0 {
        return None;
    }
    let n: u64 = t[..digits_end].parse().ok()?;
    let mult = match t[digits_end..].to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => 1_000,
        "m" => 1_000_000,
        "g" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, UsageError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn dir_before_or_after_the_command() {
        let a = p(&["--dir", "/x", "ls"]).unwrap();
        assert_eq!(a.dir, Some(PathBuf::from("/x")));
        assert_eq!(a.command, Command::Ls);
        let b = p(&["ls", "--dir=/y"]).unwrap();
        assert_eq!(b.dir, Some(PathBuf::from("/y")));
    }

    #[test]
    fn download_options() {
        let a = p(&[
            "download",
            "http://h/a.ism/Manifest",
            "--quality",
            "highest",
            "--parallel=8",
            "--start",
            "10",
            "--end",
            "20.5",
            "--quota",
            "2G",
        ])
        .unwrap();
        let Command::Download(d) = a.command else {
            panic!()
        };
        assert_eq!(d.selection, Selection::Highest);
        assert_eq!(d.parallel, Some(8));
        assert_eq!((d.start, d.end), (10.0, 20.5));
        assert_eq!(d.quota, Some(2 << 30));
        let m = p(&["download", "u", "--max-bitrate", "800k"]).unwrap();
        let Command::Download(d) = m.command else {
            panic!()
        };
        assert_eq!(d.selection, Selection::MaxBitrate(800_000));
    }

    #[test]
    fn mistakes() {
        for bad in [
            &[][..],
            &["frobnicate"],
            &["download"],
            &["download", "u", "--quality", "best"],
            &["download", "u", "--parallel", "0"],
            &["download", "u", "--start", "5", "--end", "3"],
            &["download", "u", "--quality", "lowest", "--max-bitrate", "1"],
            &["download", "u", "--quota", "lots"],
            &["get"],
            &["get", "a", "b"],
            &["ls", "--repair"],
            &["verify", "--repair=yes"],
            &["--dir"],
            &["--bogus", "ls"],
        ] {
            assert!(p(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn help_and_version() {
        assert_eq!(p(&["--help"]).unwrap().command, Command::Help(None));
        assert_eq!(
            p(&["get", "-h"]).unwrap().command,
            Command::Help(Some("get"))
        );
        assert_eq!(
            p(&["help", "verify"]).unwrap().command,
            Command::Help(Some("verify"))
        );
        assert_eq!(p(&["--version"]).unwrap().command, Command::Version);
    }

    #[test]
    fn serve_and_url() {
        let a = p(&["serve"]).unwrap();
        assert_eq!(
            a.command,
            Command::Serve(ServeArgs {
                listen: None,
                fetch_through: false,
                max_connections: None,
                quota: None,
            })
        );
        let a = p(&[
            "serve",
            "--listen=[::1]:8080",
            "--fetch-through",
            "--quota",
            "1G",
            "--max-connections",
            "8",
        ])
        .unwrap();
        assert_eq!(
            a.command,
            Command::Serve(ServeArgs {
                listen: Some("[::1]:8080".parse().unwrap()),
                fetch_through: true,
                max_connections: Some(8),
                quota: Some(1 << 30),
            })
        );
        let u = p(&["url", "http://h/a.ism/Manifest", "--server", "127.0.0.1:9"]).unwrap();
        assert_eq!(
            u.command,
            Command::Url {
                url: "http://h/a.ism/Manifest".into(),
                server: Some("127.0.0.1:9".parse().unwrap()),
            }
        );
        for bad in [
            &["serve", "x"][..],
            &["serve", "--listen", "localhost:80"],
            &["serve", "--listen", "127.0.0.1"],
            &["serve", "--max-connections", "0"],
            &["serve", "--quota", "1G"],
            &["serve", "--fetch-through=yes"],
            &["url"],
            &["url", "u", "--server", "nowhere"],
            &["url", "u", "v"],
        ] {
            assert!(p(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("1K"), Some(1024));
        assert_eq!(parse_bytes("3MiB"), Some(3 << 20));
        assert_eq!(parse_bytes("x"), None);
        assert_eq!(parse_bytes("99999999999999T"), None);
    }
}
