//! `kenar deliveries ...`: the delivery log, one delivery with its attempts, and replay.

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{enum_value, Ctx};
use crate::error::{CliError, CliResult};
use crate::output::{cell, styled, text, Output, Style, Table};
use crate::time::time_param;

#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// List deliveries, newest first.
    List(ListArgs),
    /// Show a delivery: its body and every attempt.
    Show {
        /// The delivery id or its webhook-id (msg_12).
        id: String,
    },
    /// Deliver again now, with a fresh schedule and the same webhook-id.
    Redeliver {
        /// Delivery ids or webhook-ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Queue again every failed delivery of an app created since a time.
    RedeliverFailed(RedeliverFailedArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Deliveries of every app, even when an app is set.
    #[arg(long)]
    pub all_apps: bool,
    /// PENDING, SUCCEEDED or FAILED.
    #[arg(long)]
    pub status: Option<String>,
    /// The webhook type: NEW_MESSAGE, NEW_CHATBOT_MESSAGE, POST_UPDATE, PAYMENT_TRANSACTION,
    /// USER_ACCESS_REVOCATION (or new-message, ...).
    #[arg(long)]
    pub event_type: Option<String>,
    /// Created since: a duration back from now (30m, 2h, 7days) or an RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Created before: a duration back from now or an RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only deliveries older than this id (the next page of an earlier listing).
    #[arg(long, value_name = "ID")]
    pub before: Option<i64>,
    /// At most this many per page (1 to 1000) [default: 100]
    #[arg(long)]
    pub limit: Option<u32>,
    /// Follow every page instead of the first one.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct RedeliverFailedArgs {
    /// Failed deliveries created since: a duration back from now or an RFC 3339 time.
    #[arg(long, value_name = "TIME", default_value = "24h")]
    pub since: String,
}

pub async fn run(ctx: &Ctx, command: DeliveriesCommand) -> CliResult<()> {
    match command {
        DeliveriesCommand::List(a) => list(ctx, a).await,
        DeliveriesCommand::Show { id } => {
            let answer = ctx
                .admin()?
                .get(&["admin", "v1", "deliveries", &id], &[])
                .await?;
            ctx.show(&answer, print_detail);
            Ok(())
        }
        DeliveriesCommand::Redeliver { ids } => redeliver(ctx, ids).await,
        DeliveriesCommand::RedeliverFailed(a) => {
            let slug = ctx.settings.app(None)?;
            let since = time_param("--since", &a.since)?;
            let answer = ctx
                .admin()?
                .post(
                    &["admin", "v1", "apps", slug, "redeliver-failed"],
                    &json!({ "since": since }),
                )
                .await?;
            ctx.show(&answer, |out, v| {
                out.line(&format!(
                    "Queued {} failed deliveries of {slug} created since {since}.",
                    text(v, "queued")
                ))
            });
            Ok(())
        }
    }
}

async fn list(ctx: &Ctx, a: ListArgs) -> CliResult<()> {
    let admin = ctx.admin()?;
    let mut query = Vec::new();
    if !a.all_apps {
        if let Some(app) = &ctx.settings.app {
            query.push(("app", app.value.clone()));
        }
    }
    if let Some(s) = &a.status {
        query.push(("status", enum_value(s)));
    }
    if let Some(t) = &a.event_type {
        query.push(("event_type", enum_value(t)));
    }
    if let Some(s) = &a.since {
        query.push(("since", time_param("--since", s)?));
    }
    if let Some(u) = &a.until {
        query.push(("until", time_param("--until", u)?));
    }
    if let Some(l) = a.limit {
        query.push(("limit", l.to_string()));
    }
    let path = ["admin", "v1", "deliveries"];
    if !a.all {
        if let Some(b) = a.before {
            query.push(("before", b.to_string()));
        }
        let answer = admin.get(&path, &query).await?;
        ctx.show(&answer, print_list);
        return Ok(());
    }
    // Every page, joined into one document of the same shape.
    let spinner = ctx.out.spinner("reading deliveries");
    let mut all = Vec::new();
    let mut before = a.before;
    loop {
        let mut q = query.clone();
        if let Some(b) = before {
            q.push(("before", b.to_string()));
        }
        let answer = match admin.get(&path, &q).await {
            Ok(a) => a,
            Err(e) => {
                spinner.abandon();
                return Err(e);
            }
        };
        let page = answer.value["deliveries"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        spinner.inc(page.len() as u64);
        all.extend(page);
        match answer.value["next_before"].as_i64() {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    spinner.finish_and_clear();
    let joined = json!({ "deliveries": all, "next_before": null });
    if ctx.out.json {
        ctx.out.json_value(&joined);
    } else {
        print_list(&ctx.out, &joined);
    }
    Ok(())
}

async fn redeliver(ctx: &Ctx, ids: Vec<String>) -> CliResult<()> {
    let admin = ctx.admin()?;
    let bar = ctx.out.progress(ids.len() as u64, "redelivering");
    let mut answers = Vec::new();
    let mut failures = Vec::new();
    for id in &ids {
        match admin
            .post(&["admin", "v1", "deliveries", id, "redeliver"], &json!({}))
            .await
        {
            Ok(a) => answers.push(a),
            Err(e) if ids.len() > 1 => failures.push((id.clone(), e)),
            Err(e) => {
                bar.abandon();
                return Err(e);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if ctx.out.json {
        if let [one] = answers.as_slice() {
            if failures.is_empty() {
                ctx.out.raw_json(&one.raw);
            }
        } else {
            let deliveries: Vec<&Value> = answers.iter().map(|a| &a.value).collect();
            ctx.out.json_value(&json!({ "deliveries": deliveries }));
        }
    } else {
        for a in &answers {
            let status = text(&a.value, "status");
            let now = match a.value["next_attempt_at"].as_str() {
                Some(next) => format!("next attempt {next}"),
                None => format!(
                    "now {} after {} attempts",
                    ctx.out
                        .paint(Style::for_status(&status).unwrap_or(Style::Bold), &status),
                    text(&a.value, "attempts")
                ),
            };
            ctx.out.line(&format!(
                "Queued {} again; {now}.",
                text(&a.value, "webhook_id")
            ));
        }
    }
    for (id, e) in &failures {
        ctx.out.note(&format!(
            "{} {id}: {e}",
            ctx.out.paint_err(Style::Red, "error:")
        ));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Partial(format!(
            "{} of {} deliveries could not be queued",
            failures.len(),
            ids.len()
        )))
    }
}

fn status_cell(d: &Value) -> (String, Option<Style>) {
    let status = text(d, "status");
    let style = Style::for_status(&status);
    styled(status, style)
}

fn print_list(out: &Output, v: &Value) {
    let mut table = Table::new(&[
        "ID",
        "WEBHOOK ID",
        "EVENT",
        "APP",
        "TYPE",
        "STATUS",
        "ATTEMPTS",
        "LAST",
        "CREATED",
    ]);
    for d in v["deliveries"].as_array().into_iter().flatten() {
        let last = match (d["last_status"].as_i64(), d["last_error"].as_str()) {
            (Some(s), _) => s.to_string(),
            (None, Some(e)) => truncate(e, 40),
            (None, None) => "-".to_owned(),
        };
        table.row(vec![
            cell(text(d, "id")),
            cell(text(d, "webhook_id")),
            cell(text(d, "event_id")),
            cell(text(d, "app")),
            cell(text(d, "event_type")),
            status_cell(d),
            cell(text(d, "attempts")),
            cell(last),
            cell(text(d, "created_at")),
        ]);
    }
    if table.is_empty() {
        out.line("No deliveries.");
    } else {
        table.print(out);
    }
    if let Some(next) = v["next_before"].as_i64() {
        out.note(&format!("More deliveries: --before {next} (or --all)"));
    }
}

fn print_detail(out: &Output, d: &Value) {
    let status = text(d, "status");
    out.fields(&[
        (
            "delivery",
            format!("{} ({})", text(d, "id"), text(d, "webhook_id")),
        ),
        (
            "event",
            format!("{} {}", text(d, "event_id"), text(d, "event_type")),
        ),
        ("app", text(d, "app")),
        (
            "status",
            match Style::for_status(&status) {
                Some(s) => out.paint(s, &status),
                None => status.clone(),
            },
        ),
        ("attempts", text(d, "attempts")),
        ("next attempt", text(d, "next_attempt_at")),
        ("last status", text(d, "last_status")),
        ("last error", text(d, "last_error")),
        ("created", text(d, "created_at")),
        ("updated", text(d, "updated_at")),
    ]);
    out.line("");
    out.line(&out.paint(Style::Bold, "body"));
    let body = serde_json::to_string_pretty(&d["body"]).unwrap_or_else(|_| d["body"].to_string());
    out.line(&body);
    out.line("");
    let mut table = Table::new(&["ATTEMPTED", "STATUS", "LATENCY", "RESPONSE / ERROR"]);
    for a in d["attempt_log"].as_array().into_iter().flatten() {
        let status = text(a, "status_code");
        let style = Style::for_status(&status).or(Some(Style::Red));
        let detail = match (a["error"].as_str(), a["response_body"].as_str()) {
            (Some(e), _) => e.to_owned(),
            (None, Some(r)) => r.to_owned(),
            (None, None) => "-".to_owned(),
        };
        table.row(vec![
            cell(text(a, "attempted_at")),
            styled(status, style),
            cell(format!("{} ms", text(a, "latency_ms"))),
            cell(truncate(&detail.replace('\n', " "), 80)),
        ]);
    }
    if table.is_empty() {
        out.line("No attempts yet.");
    } else {
        table.print(out);
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(super::truncate("abcdef", 4), "abc…");
        assert_eq!(super::truncate("abc", 4), "abc");
    }
}
