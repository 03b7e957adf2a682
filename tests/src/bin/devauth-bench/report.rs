//! The results table: one row per measurement with its value, target and
//! verdict, plus the conditions of the run, as Markdown.

use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// No target, or not measured.
    None,
}

impl Verdict {
    pub fn of(ok: bool) -> Verdict {
        if ok { Verdict::Pass } else { Verdict::Fail }
    }

    fn text(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::None => "—",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub what: String,
    pub value: String,
    pub target: String,
    pub verdict: Verdict,
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    /// Measurements that could not be made (a failed step, a missing tool).
    pub errors: usize,
}

impl Report {
    pub fn row(
        &mut self,
        id: &str,
        what: impl Into<String>,
        value: impl Into<String>,
        target: impl Into<String>,
        verdict: Verdict,
    ) {
        let row = Row {
            id: id.to_string(),
            what: what.into(),
            value: value.into(),
            target: target.into(),
            verdict,
        };
        eprintln!(
            "bench: {} {} = {} [{}] {}",
            row.id,
            row.what,
            row.value,
            row.target,
            row.verdict.text()
        );
        self.rows.push(row);
    }

    /// A row for something that could not be measured, saying why.
    pub fn not_measured(&mut self, id: &str, what: impl Into<String>, why: impl std::fmt::Display) {
        self.row(
            id,
            what,
            format!("not measured ({why})"),
            "—",
            Verdict::None,
        );
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str("| # | measurement | value | target | result |\n");
        out.push_str("| --- | --- | --- | --- | --- |\n");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                r.id,
                r.what.replace('|', "\\|"),
                r.value.replace('|', "\\|"),
                r.target.replace('|', "\\|"),
                r.verdict.text()
            );
        }
        out
    }

    pub fn failures(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .count()
    }
}

/// Requests per second, readable: `12,345`.
pub fn rate(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with sensible precision.
pub fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0} ms")
    } else if x >= 10.0 {
        format!("{x:.1} ms")
    } else {
        format!("{x:.2} ms")
    }
}

/// The `p`-th percentile (0–100) of sorted values, nearest-rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn first_line_of(path: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().and_then(|text| {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    })
}

/// CPU model, core count and memory of this machine.
pub fn machine() -> String {
    let cpu = first_line_of("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kb: u64 = first_line_of("/proc/meminfo", "MemTotal")
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    format!(
        "{cores} cores ({cpu}), {:.0} GiB RAM",
        mem_kb as f64 / 1024.0 / 1024.0
    )
}

/// The 1-minute load average.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(rate(1234567.4), "1,234,567");
        assert_eq!(rate(999.0), "999");
        assert_eq!(ms(0.1234), "0.12 ms");
        assert_eq!(ms(2500.0), "2500 ms");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 50.0), 7.0);
    }
}
