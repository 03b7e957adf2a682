//! A post-commit signal between devauth processes sharing one SQLite file.
//!
//! Every change that bumps the generation counter is followed, once committed,
//! by a one-byte write to `<database>-changes` ([`announce`]). On Linux a server
//! watches that file with inotify ([`Watch`]): while nothing was written to it
//! since the server's last look at the counter, no devauth process can have
//! moved the counter, and a token validation needs one non-blocking `read` of
//! the inotify descriptor instead of a SQLite read transaction.
//!
//! The write comes after the commit, so whoever has heard it looks at a
//! database that already holds the change. A process that cannot announce
//! reports an error for the change (it is saved; other servers may not see it
//! until they look for another reason). Elsewhere than Linux, and when the file
//! cannot be watched, every validation looks (`PRAGMA data_version`), as before.

use std::path::{Path, PathBuf};

/// The signal file of the database at `db`.
pub(super) fn signal_path(db: &Path) -> PathBuf {
    let mut path = db.as_os_str().to_owned();
    path.push("-changes");
    PathBuf::from(path)
}

/// Tells every server watching `path` that a change was committed.
pub(super) fn announce(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?
        .write_all(b"\n")
}

#[cfg(target_os = "linux")]
pub(super) use linux::Watch;

#[cfg(not(target_os = "linux"))]
pub(super) struct Watch;

#[cfg(not(target_os = "linux"))]
impl Watch {
    pub(super) fn open(_path: &Path) -> Option<Self> {
        None
    }
    pub(super) fn quiet(&self) -> Option<i64> {
        None
    }
    pub(super) fn heard(&self) -> u64 {
        0
    }
    pub(super) fn looked(&self, _heard: u64, _generation: i64) {}
}

#[cfg(target_os = "linux")]
mod linux {
    use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
    use rustix::io::Errno;
    use std::os::fd::OwnedFd;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::SeqCst};
    use std::sync::{Mutex, PoisonError};

    /// Any write, and the file going away or being replaced.
    const EVENTS: WatchFlags = WatchFlags::MODIFY
        .union(WatchFlags::ATTRIB)
        .union(WatchFlags::CLOSE_WRITE)
        .union(WatchFlags::DELETE_SELF)
        .union(WatchFlags::MOVE_SELF);

    /// Never equal to a count of signals: nothing was looked at yet.
    const NEVER: u64 = u64::MAX;

    pub(in crate::store) struct Watch {
        path: PathBuf,
        /// Held while reading events and counting them, so that a caller who
        /// finds the queue empty also finds every event read before counted.
        inotify: Mutex<OwnedFd>,
        /// Reads that returned events, so far.
        heard: AtomicU64,
        /// `heard` as of the start of the latest look at the counter.
        looked: AtomicU64,
        /// The counter that look found.
        generation: AtomicI64,
        /// The file could not be watched again after it was replaced.
        lost: AtomicBool,
    }

    impl Watch {
        /// Creates the signal file when missing and watches it; `None` when the
        /// system refuses (no inotify, read-only directory, too many watches).
        pub(in crate::store) fn open(path: &Path) -> Option<Self> {
            let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC).ok()?;
            watch(&fd, path).ok()?;
            Some(Self {
                path: path.to_path_buf(),
                inotify: Mutex::new(fd),
                heard: AtomicU64::new(0),
                looked: AtomicU64::new(NEVER),
                generation: AtomicI64::new(0),
                lost: AtomicBool::new(false),
            })
        }

        /// The counter, when no signal arrived since the last look; `None`
        /// means look.
        pub(in crate::store) fn quiet(&self) -> Option<i64> {
            if self.lost.load(SeqCst) {
                return None;
            }
            {
                let fd = self.inotify.lock().unwrap_or_else(PoisonError::into_inner);
                match drain(&fd) {
                    Ok(false) => {}
                    Ok(true) => {
                        self.heard.fetch_add(1, SeqCst);
                        // The file may have been replaced: watch what is
                        // there now (the same inode keeps its watch).
                        if watch(&fd, &self.path).is_err() {
                            self.lost.store(true, SeqCst);
                        }
                        return None;
                    }
                    Err(_) => {
                        self.heard.fetch_add(1, SeqCst);
                        return None;
                    }
                }
            }
            let looked = self.looked.load(SeqCst);
            (looked == self.heard.load(SeqCst)).then(|| self.generation.load(SeqCst))
        }

        /// To be read before a look starts, and handed to [`Watch::looked`].
        pub(in crate::store) fn heard(&self) -> u64 {
            self.heard.load(SeqCst)
        }

        /// Records a look that started when `heard` signals had been heard.
        /// Looks are serialized, so `heard` only grows from one to the next.
        pub(in crate::store) fn looked(&self, heard: u64, generation: i64) {
            self.generation.store(generation, SeqCst);
            self.looked.store(heard, SeqCst);
        }
    }

    /// Watches the file, creating it first when missing (which the watchers
    /// already there hear as a write: one extra look for them).
    fn watch(fd: &OwnedFd, path: &Path) -> std::io::Result<()> {
        match inotify::add_watch(fd, path, EVENTS) {
            Err(Errno::NOENT) => {
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .append(true)
                    .open(path)?;
                inotify::add_watch(fd, path, EVENTS)?;
            }
            other => {
                other?;
            }
        }
        Ok(())
    }

    /// Reads every queued event; whether there were any.
    fn drain(fd: &OwnedFd) -> Result<bool, Errno> {
        let mut buf = [0u8; 1024];
        let mut any = false;
        loop {
            match rustix::io::read(fd, &mut buf[..]) {
                Ok(0) => return Ok(any),
                Ok(_) => any = true,
                Err(Errno::AGAIN) => return Ok(any),
                Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
        }
    }
}
