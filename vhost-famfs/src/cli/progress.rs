// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Progress of long copies: a bar on a terminal; with --progress
//! elsewhere (a pipe, a log file), one plain line a second.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Without --progress, a bar appears for copies of at least this much.
const BAR_MIN: u64 = 64 << 20;
/// Seconds between progress lines when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(1);

pub struct Progress {
    kind: Kind,
}

enum Kind {
    Hidden,
    Bar(ProgressBar),
    Lines {
        total: u64,
        done: u64,
        started: Instant,
        last: Instant,
    },
}

impl Progress {
    /// Progress for a copy of `total` bytes; `forced` is --progress.
    pub fn new(total: u64, forced: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let kind = if tty && (forced || total >= BAR_MIN) {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(
                    "{bytes}/{total_bytes} [{bar:40}] {bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            Kind::Bar(b)
        } else if forced {
            let now = Instant::now();
            Kind::Lines {
                total,
                done: 0,
                started: now,
                last: now,
            }
        } else {
            Kind::Hidden
        };
        Progress { kind }
    }

    /// Counts `n` more bytes copied.
    pub fn inc(&mut self, n: u64) {
        match &mut self.kind {
            Kind::Hidden => {}
            Kind::Bar(b) => b.inc(n),
            Kind::Lines {
                total,
                done,
                started,
                last,
            } => {
                *done += n;
                if last.elapsed() >= LINE_EVERY {
                    *last = Instant::now();
                    eprintln!("{}", line(*done, *total, started.elapsed()));
                }
            }
        }
    }

    /// Clears the bar, or prints the closing line.
    pub fn finish(self) {
        match self.kind {
            Kind::Hidden => {}
            Kind::Bar(b) => b.finish_and_clear(),
            Kind::Lines {
                total,
                done,
                started,
                ..
            } => eprintln!("{}", line(done, total, started.elapsed())),
        }
    }
}

fn line(done: u64, total: u64, took: Duration) -> String {
    let pct = done.saturating_mul(100).checked_div(total).unwrap_or(100);
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    let rate = mib(done) / took.as_secs_f64().max(1e-3);
    format!(
        "copied {:.1} of {:.1} MiB ({pct}%) in {:.1} s, {rate:.0} MiB/s",
        mib(done),
        mib(total),
        took.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::line;
    use std::time::Duration;

    #[test]
    fn lines_say_how_far() {
        let l = line(3 << 20, 4 << 20, Duration::from_secs(2));
        assert_eq!(l, "copied 3.0 of 4.0 MiB (75%) in 2.0 s, 2 MiB/s");
        assert!(line(0, 0, Duration::ZERO).contains("(100%)"));
    }
}
