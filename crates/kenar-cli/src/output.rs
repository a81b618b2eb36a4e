//! How results reach the user: human text (aligned, coloured only on a terminal) or, with
//! `--json`, the server's JSON as it sent it.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};

/// When to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When writing to a terminal and `NO_COLOR` is not set.
    Auto,
    Always,
    Never,
}

/// A colour or emphasis, as an ANSI SGR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bold,
    Dim,
    Red,
    Green,
    Yellow,
    Cyan,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Red => "31",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Cyan => "36",
        }
    }

    /// The style of a delivery status or an HTTP status.
    pub fn for_status(status: &str) -> Option<Style> {
        match status {
            "SUCCEEDED" => Some(Style::Green),
            "FAILED" => Some(Style::Red),
            "PENDING" => Some(Style::Yellow),
            s if s.starts_with('2') && s.len() == 3 => Some(Style::Green),
            s if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) => Some(Style::Red),
            _ => None,
        }
    }
}

/// Where output goes, and in which form.
#[derive(Debug, Clone)]
pub struct Output {
    /// `--json`: print the server's JSON documents instead of text.
    pub json: bool,
    color_stdout: bool,
    color_stderr: bool,
    /// Whether progress bars may be drawn (standard error is a terminal, not `--json`).
    progress: bool,
}

impl Output {
    pub fn new(json: bool, color: ColorChoice) -> Output {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let decide = |is_terminal: bool| match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && !no_color,
        };
        let stderr_terminal = std::io::stderr().is_terminal();
        Output {
            json,
            color_stdout: decide(std::io::stdout().is_terminal()),
            color_stderr: decide(stderr_terminal),
            progress: stderr_terminal && !json,
        }
    }

    /// `text` in `style` when standard output is coloured.
    pub fn paint(&self, style: Style, text: &str) -> String {
        paint(self.color_stdout, style, text)
    }

    /// `text` in `style` when standard error is coloured.
    pub fn paint_err(&self, style: Style, text: &str) -> String {
        paint(self.color_stderr, style, text)
    }

    /// One line to standard output. A closed pipe (`kenar ... | head`) is not an error.
    pub fn line(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// One line to standard error (notes, warnings, progress that is not a bar).
    pub fn note(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }

    /// A JSON document exactly as the server sent it, on one line.
    pub fn raw_json(&self, raw: &str) {
        self.line(raw.trim_end());
    }

    /// A JSON value this tool made, on one line.
    pub fn json_value(&self, value: &serde_json::Value) {
        self.line(&value.to_string());
    }

    /// Aligned `label  value` lines.
    pub fn fields(&self, rows: &[(&str, String)]) {
        let width = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        for (k, v) in rows {
            let pad = width - k.chars().count();
            self.line(&format!(
                "{}{}  {v}",
                self.paint(Style::Bold, k),
                " ".repeat(pad)
            ));
        }
    }

    /// A progress bar over `len` steps, drawn on standard error only when it is a terminal
    /// (hidden under `--json` and in pipes).
    pub fn progress(&self, len: u64, what: &str) -> ProgressBar {
        if !self.progress || len < 2 {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        bar
    }

    /// A spinner for work of unknown length, under the same conditions as [`Output::progress`].
    pub fn spinner(&self, what: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {pos} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(what.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }
}

fn paint(enabled: bool, style: Style, text: &str) -> String {
    if enabled && !text.is_empty() {
        format!("\x1b[{}m{text}\x1b[0m", style.code())
    } else {
        text.to_owned()
    }
}

/// A table: a header and rows of cells, each cell with an optional style, columns aligned on
/// the plain text (styles are applied after padding so escape codes do not skew widths).
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<(String, Option<Style>)>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<(String, Option<Style>)>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn print(&self, out: &Output) {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, (text, _)) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(text.chars().count());
            }
        }
        let render = |cells: Vec<(String, Option<Style>)>| {
            let last = cells.len().saturating_sub(1);
            let mut line = String::new();
            for (i, (text, style)) in cells.into_iter().enumerate() {
                let pad = if i == last {
                    0
                } else {
                    widths[i].saturating_sub(text.chars().count()) + 2
                };
                match style {
                    Some(s) => line.push_str(&out.paint(s, &text)),
                    None => line.push_str(&text),
                }
                line.push_str(&" ".repeat(pad));
            }
            line
        };
        out.line(&render(
            self.header
                .iter()
                .map(|h| (h.to_string(), Some(Style::Bold)))
                .collect(),
        ));
        for row in &self.rows {
            out.line(&render(row.clone()));
        }
    }
}

/// A plain cell.
pub fn cell(text: impl Into<String>) -> (String, Option<Style>) {
    (text.into(), None)
}

/// A styled cell.
pub fn styled(text: impl Into<String>, style: Option<Style>) -> (String, Option<Style>) {
    (text.into(), style)
}

/// A string field of a JSON object, or `-`.
pub fn text(value: &serde_json::Value, field: &str) -> String {
    match &value[field] {
        serde_json::Value::Null => "-".to_owned(),
        serde_json::Value::String(s) if s.is_empty() => "-".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) if items.is_empty() => "-".to_owned(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn painting_is_a_no_op_when_colour_is_off() {
        assert_eq!(paint(false, Style::Red, "FAILED"), "FAILED");
        assert_eq!(paint(true, Style::Red, "FAILED"), "\x1b[31mFAILED\x1b[0m");
    }

    #[test]
    fn statuses_get_their_colours() {
        assert_eq!(Style::for_status("SUCCEEDED"), Some(Style::Green));
        assert_eq!(Style::for_status("204"), Some(Style::Green));
        assert_eq!(Style::for_status("500"), Some(Style::Red));
        assert_eq!(Style::for_status("PENDING"), Some(Style::Yellow));
        assert_eq!(Style::for_status("whatever"), None);
    }

    #[test]
    fn json_fields_read_as_text() {
        let v = serde_json::json!({"a": "x", "b": null, "c": ["p", "q"], "d": 3, "e": ""});
        assert_eq!(text(&v, "a"), "x");
        assert_eq!(text(&v, "b"), "-");
        assert_eq!(text(&v, "c"), "p,q");
        assert_eq!(text(&v, "d"), "3");
        assert_eq!(text(&v, "e"), "-");
        assert_eq!(text(&v, "missing"), "-");
    }
}
