//! `kenar trigger <kind>`: publishes realistic sample events through the ingestion API, as the
//! platform would, with any field overridable.

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::public::json_object;
use super::samples::{self, Message, MessageType, PaymentState, Post, SenderType, Side};
use super::Ctx;
use crate::error::{CliError, CliResult};
use crate::output::Style;
use crate::time::{now_micros, now_rfc3339};

/// The most events one ingestion call takes.
const MAX_BATCH: usize = 1000;

#[derive(Debug, Subcommand)]
pub enum TriggerKind {
    /// A chat message on a post (NEW_MESSAGE, to the post owner's subscribers).
    NewMessage(NewMessageArgs),
    /// A message to an app's chatbot (NEW_CHATBOT_MESSAGE, to that app).
    ChatbotMessage(ChatbotArgs),
    /// A post published, edited, retired or archived (POST_UPDATE).
    PostUpdate(PostUpdateArgs),
    /// A payment of an app (PAYMENT_TRANSACTION).
    Payment(PaymentArgs),
    /// A user revoking an app's access (USER_ACCESS_REVOCATION; ends the user's grants).
    Revocation(RevocationArgs),
}

/// Options every kind takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Publish this many events (each with fresh ids).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub count: u32,
    /// Events per ingestion call (at most 1000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub batch_size: u32,
    /// A JSON merge patch applied to each event item, to set any field:
    /// '{"new_message": {"sender": {"side": "SELLER"}}}'.
    #[arg(long, value_name = "JSON")]
    pub patch: Option<String>,
    /// Print the events instead of publishing them.
    #[arg(long)]
    pub dry_run: bool,
}

/// Fields of a chat message.
#[derive(Debug, Args)]
pub struct MessageArgs {
    /// The message's type; each has a realistic sample body.
    #[arg(long, value_enum, ignore_case = true, default_value = "text")]
    pub message_type: MessageType,
    /// The text of a TEXT message.
    #[arg(long)]
    pub text: Option<String>,
    /// The message id [default: a random UUID]
    #[arg(long)]
    pub id: Option<String>,
    /// The conversation id [default: a random UUID]
    #[arg(long)]
    pub conversation: Option<String>,
    /// Whether a person or a bot sent it.
    #[arg(long, value_enum, ignore_case = true, default_value = "human")]
    pub sender_type: SenderType,
}

#[derive(Debug, Args)]
pub struct NewMessageArgs {
    /// The post the conversation is about [default: the post setting]
    #[arg(long, env = "KENAR_POST", value_name = "TOKEN")]
    pub post: Option<String>,
    /// The post's owner (platform id), when the server does not know it yet.
    #[arg(long, visible_alias = "user", value_name = "ID")]
    pub owner: Option<String>,
    /// Which side sent it.
    #[arg(long, value_enum, ignore_case = true, default_value = "buyer")]
    pub side: Side,
    #[command(flatten)]
    pub message: MessageArgs,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct ChatbotArgs {
    /// The user talking to the chatbot (platform id) [default: the user setting]
    #[arg(long, env = "KENAR_USER", value_name = "ID")]
    pub user: Option<String>,
    #[command(flatten)]
    pub message: MessageArgs,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct PostUpdateArgs {
    /// The post [default: the post setting]
    #[arg(long, env = "KENAR_POST", value_name = "TOKEN")]
    pub post: Option<String>,
    /// What happened to it.
    #[arg(
        long = "update-type",
        value_enum,
        ignore_case = true,
        default_value = "publish"
    )]
    pub kind: samples::UpdateType,
    /// The post's owner (platform id); recorded as its owner.
    #[arg(long, visible_alias = "user", value_name = "ID")]
    pub owner: Option<String>,
    #[arg(long, default_value = "light")]
    pub category: String,
    #[arg(long, default_value = "tehran")]
    pub city: String,
    #[arg(long, default_value = "vanak")]
    pub district: String,
    #[arg(long, default_value = "دوچرخه کوهستان")]
    pub title: String,
    /// The price in rials.
    #[arg(long, default_value_t = 12_000_000)]
    pub price: i64,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct PaymentArgs {
    /// The amount in rials.
    #[arg(long, default_value_t = 100_000)]
    pub amount: i64,
    #[arg(long, value_enum, ignore_case = true, default_value = "completed")]
    pub state: PaymentState,
    /// The transaction id [default: a random UUID]
    #[arg(long)]
    pub id: Option<String>,
    #[arg(long, default_value = "توکن آگهی بازنشر: ABC123")]
    pub extra_details: String,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct RevocationArgs {
    /// The user revoking access (platform id) [default: the user setting]
    #[arg(long, env = "KENAR_USER", value_name = "ID")]
    pub user: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

impl TriggerKind {
    fn common(&self) -> &Common {
        match self {
            TriggerKind::NewMessage(a) => &a.common,
            TriggerKind::ChatbotMessage(a) => &a.common,
            TriggerKind::PostUpdate(a) => &a.common,
            TriggerKind::Payment(a) => &a.common,
            TriggerKind::Revocation(a) => &a.common,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            TriggerKind::NewMessage(_) => "NEW_MESSAGE",
            TriggerKind::ChatbotMessage(_) => "NEW_CHATBOT_MESSAGE",
            TriggerKind::PostUpdate(_) => "POST_UPDATE",
            TriggerKind::Payment(_) => "PAYMENT_TRANSACTION",
            TriggerKind::Revocation(_) => "USER_ACCESS_REVOCATION",
        }
    }
}

fn message(a: &MessageArgs, post: Option<&str>, side: Option<Side>, n: u32) -> CliResult<Message> {
    if a.text.is_some() && a.message_type != MessageType::Text {
        return Err(CliError::usage(
            "--text is the body of a TEXT message; drop it or use --message-type text",
        ));
    }
    let default_text = if post.is_some() {
        "سلام، این آگهی هنوز موجوده؟"
    } else {
        "/start"
    };
    Ok(Message {
        // A given id is kept as is for one event, numbered for several.
        id: numbered(a.id.as_deref(), n),
        conversation_id: a.conversation.clone().unwrap_or_else(samples::uuid),
        post: post.map(str::to_owned),
        side,
        sender_type: a.sender_type,
        message_type: a.message_type,
        text: a.text.clone().unwrap_or_else(|| default_text.to_owned()),
        sent_at: now_micros(),
    })
}

fn numbered(given: Option<&str>, n: u32) -> String {
    match given {
        Some(id) if n == 0 => id.to_owned(),
        Some(id) => format!("{id}-{n}"),
        None => samples::uuid(),
    }
}

/// The `n`-th event item of this kind.
fn item(ctx: &Ctx, kind: &TriggerKind, n: u32) -> CliResult<Value> {
    let s = &ctx.settings;
    Ok(match kind {
        TriggerKind::NewMessage(a) => {
            let post = a.post.as_deref().map_or_else(|| s.post(), Ok)?;
            let m = message(&a.message, Some(post), Some(a.side), n)?;
            samples::new_message(&m, a.owner.as_deref())
        }
        TriggerKind::ChatbotMessage(a) => {
            let user = a.user.as_deref().map_or_else(|| s.user(), Ok)?;
            let m = message(&a.message, None, None, n)?;
            samples::chatbot_message(&m, s.app(None)?, user)
        }
        TriggerKind::PostUpdate(a) => {
            let post = a.post.as_deref().map_or_else(|| s.post(), Ok)?;
            let p = Post {
                token: post.to_owned(),
                category: a.category.clone(),
                city: a.city.clone(),
                district: a.district.clone(),
                title: a.title.clone(),
                price: a.price,
                first_published_at: now_rfc3339(),
            };
            samples::post_update(a.kind, &p, a.owner.as_deref())
        }
        TriggerKind::Payment(a) => samples::payment(
            &numbered(a.id.as_deref(), n),
            a.amount,
            a.state,
            &a.extra_details,
            s.app(None)?,
        ),
        TriggerKind::Revocation(a) => {
            let user = a.user.as_deref().map_or_else(|| s.user(), Ok)?;
            samples::revocation(s.app(None)?, user)
        }
    })
}

pub async fn run(ctx: &Ctx, kind: TriggerKind) -> CliResult<()> {
    let common = kind.common();
    let patch = match &common.patch {
        Some(p) => Some(Value::Object(json_object("--patch", p)?)),
        None => None,
    };
    let mut events = Vec::with_capacity(common.count as usize);
    for n in 0..common.count {
        let mut event = item(ctx, &kind, n)?;
        if let Some(p) = &patch {
            samples::merge_patch(&mut event, p);
        }
        events.push(event);
    }
    if common.dry_run {
        let body = json!({ "events": events });
        if ctx.out.json {
            ctx.out.json_value(&body);
        } else {
            let pretty = serde_json::to_string_pretty(&body).unwrap_or_else(|_| body.to_string());
            ctx.out.line(&pretty);
        }
        return Ok(());
    }
    let platform = ctx.platform()?;
    let bar = ctx.out.progress(events.len() as u64, "publishing");
    let batch = (common.batch_size as usize).min(MAX_BATCH);
    let mut results = Vec::with_capacity(events.len());
    let mut raw_single = None;
    let batches = events.len().div_ceil(batch);
    for chunk in events.chunks(batch) {
        let answer = platform
            .post(&["v1", "platform", "events"], &json!({ "events": chunk }))
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                bar.abandon();
                if !results.is_empty() {
                    ctx.out.note(&format!(
                        "{} events were published before this error.",
                        results.len()
                    ));
                }
                return Err(e);
            }
        };
        let got = answer.value["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        bar.inc(chunk.len() as u64);
        results.extend(got);
        if batches == 1 {
            raw_single = Some(answer.raw);
        }
    }
    bar.finish_and_clear();
    report(ctx, &kind, &events, &results, raw_single.as_deref())
}

fn report(
    ctx: &Ctx,
    kind: &TriggerKind,
    events: &[Value],
    results: &[Value],
    raw: Option<&str>,
) -> CliResult<()> {
    let refused: Vec<(usize, &Value)> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.get("error").is_some())
        .collect();
    if ctx.out.json {
        match raw {
            Some(raw) => ctx.out.raw_json(raw),
            None => ctx.out.json_value(&json!({ "results": results })),
        }
    } else {
        let out = &ctx.out;
        let accepted = results.len() - refused.len();
        if results.len() <= 20 {
            for r in results {
                if let Some(id) = r["event_id"].as_str() {
                    out.line(&format!(
                        "{}  {}  {}",
                        out.paint(Style::Green, "published"),
                        kind.type_name(),
                        id
                    ));
                }
            }
        } else {
            out.line(&format!(
                "Published {accepted} {} events.",
                kind.type_name()
            ));
        }
        for (i, r) in &refused {
            let message = r["error"]["message"].as_str().unwrap_or("refused");
            out.line(&format!(
                "{}  event {} of {}: {message}",
                out.paint(Style::Red, "refused"),
                i + 1,
                events.len()
            ));
        }
        if accepted > 0 {
            out.note(&format!(
                "Deliveries: kenar deliveries list --event-type {}",
                kind.type_name()
            ));
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(CliError::Partial(format!(
            "{} of {} events were refused",
            refused.len(),
            events.len()
        )))
    }
}
