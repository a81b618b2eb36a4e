//! Results: each scenario adds rows (a metric, its value, the target and whether it was
//! met); they print as one table and are written as JSON.

use std::time::Duration;

use serde_json::{json, Map, Value};

/// A target of the issue a metric is held to.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::AtLeast(t) => value >= t,
            Target::AtMost(t) => value <= t,
        }
    }
}

/// One measured number.
pub struct Row {
    pub scenario: String,
    pub database: String,
    pub metric: &'static str,
    pub value: f64,
    pub unit: &'static str,
    pub target: Option<Target>,
}

/// Everything this run measured.
pub struct Report {
    pub rows: Vec<Row>,
    /// Per scenario run, extra facts for the JSON (counts, durations, settings).
    pub details: Vec<Value>,
    /// Smoke sizes: targets are shown but not judged.
    pub smoke: bool,
}

impl Report {
    pub fn new(smoke: bool) -> Report {
        Report {
            rows: Vec::new(),
            details: Vec::new(),
            smoke,
        }
    }

    /// Adds a row and prints it at once, so a long run shows progress.
    pub fn add(
        &mut self,
        scenario: &str,
        database: &str,
        metric: &'static str,
        value: f64,
        unit: &'static str,
        target: Option<Target>,
    ) {
        let row = Row {
            scenario: scenario.to_owned(),
            database: database.to_owned(),
            metric,
            value,
            unit,
            target,
        };
        eprintln!("  {}", self.line(&row));
        self.rows.push(row);
    }

    /// The rows of one scenario on one database.
    pub fn scope<'a>(&'a mut self, scenario: &'a str, database: &'a str) -> Scope<'a> {
        Scope {
            report: self,
            scenario,
            database,
        }
    }

    /// Facts of a scenario run for the JSON, with the machine's load average at its end: the
    /// machine may be shared, and a busy one explains a slow number.
    pub fn detail(&mut self, scenario: &str, database: &str, facts: Value) {
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        self.details.push(json!({
            "scenario": scenario, "database": database, "facts": facts,
            "load_average": load.join(" "),
        }));
    }

    fn verdict(&self, row: &Row) -> &'static str {
        match row.target {
            None => "",
            Some(_) if self.smoke => "(smoke)",
            Some(t) if t.met(row.value) => "PASS",
            Some(_) => "MISS",
        }
    }

    fn line(&self, row: &Row) -> String {
        format!(
            "{:<20} {:<9} {:<26} {:>14} {:<10} {:>10} {}",
            row.scenario,
            row.database,
            row.metric,
            format_value(row.value),
            row.unit,
            row.target.map(format_target).unwrap_or_default(),
            self.verdict(row)
        )
    }

    /// The human table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<20} {:<9} {:<26} {:>14} {:<10} {:>10} {}\n",
            "scenario", "database", "metric", "value", "unit", "target", "verdict"
        );
        out.push_str(&"-".repeat(100));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&self.line(row));
            out.push('\n');
        }
        out
    }

    pub fn json(&self, header: Map<String, Value>) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "scenario": r.scenario,
                    "database": r.database,
                    "metric": r.metric,
                    "value": r.value,
                    "unit": r.unit,
                    "target": r.target.map(format_target),
                    "verdict": self.verdict(r),
                })
            })
            .collect();
        let mut out = header;
        out.insert("results".into(), json!(rows));
        out.insert("details".into(), json!(self.details));
        Value::Object(out)
    }
}

/// Adds rows of one scenario on one database.
pub struct Scope<'a> {
    report: &'a mut Report,
    scenario: &'a str,
    database: &'a str,
}

impl Scope<'_> {
    /// A number measured for information.
    pub fn info(&mut self, metric: &'static str, value: f64, unit: &'static str) {
        self.report
            .add(self.scenario, self.database, metric, value, unit, None);
    }

    /// A number held to a target of the issue.
    pub fn goal(&mut self, metric: &'static str, value: f64, unit: &'static str, target: Target) {
        self.report.add(
            self.scenario,
            self.database,
            metric,
            value,
            unit,
            Some(target),
        );
    }

    /// Facts for the JSON.
    pub fn detail(&mut self, facts: Value) {
        self.report.detail(self.scenario, self.database, facts);
    }
}

fn format_target(t: Target) -> String {
    match t {
        Target::AtLeast(v) => format!(">= {}", format_value(v)),
        Target::AtMost(v) => format!("<= {}", format_value(v)),
    }
}

fn format_value(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The `p`-th percentile (0..=100) of sorted samples, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds, for the table.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Per second.
pub fn rate(count: u64, over: Duration) -> f64 {
    count as f64 / over.as_secs_f64().max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&samples, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&samples[..1], 90.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn targets_are_judged_except_in_smoke_runs() {
        let mut r = Report::new(false);
        let mut s = r.scope("t", "sqlite");
        s.goal("rate", 10.0, "/s", Target::AtLeast(20.0));
        s.goal("p99", 5.0, "ms", Target::AtMost(10.0));
        s.info("other", 1.0, "");
        assert!(r.table().contains("MISS") && r.table().contains("PASS"));
        r.smoke = true;
        assert!(!r.table().contains("MISS"));
    }
}
