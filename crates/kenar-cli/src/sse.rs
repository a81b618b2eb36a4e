//! An incremental reader of Server-Sent Events (the `text/event-stream` format of the HTML
//! standard): bytes in, complete events out, whatever the chunking.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// `event:`; `message` when the server gave none.
    pub event: String,
    /// `data:` lines, joined with `\n`.
    pub data: String,
    /// `id:` of this event, if it had one.
    pub id: Option<String>,
}

/// Feeds bytes, yields events.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not yet ended.
    partial: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
    id: Option<String>,
    /// Whether the previous chunk ended with `\r`, so a leading `\n` ends nothing.
    after_cr: bool,
}

impl SseParser {
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Reads `chunk`, returning the events it completes.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for &b in chunk {
            match b {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.partial);
                    if let Some(e) = self.line(&String::from_utf8_lossy(&line)) {
                        out.push(e);
                    }
                }
                _ => {
                    self.after_cr = false;
                    self.partial.push(b);
                }
            }
        }
        out
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None; // a comment (keep-alive)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {} // `retry` and unknown fields
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let id = self.id.take();
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        Some(SseEvent {
            event: event
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "message".to_owned()),
            data,
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let mut p = SseParser::new();
        let stream = b": keep-alive\n\nevent: delivery\nid: 12\ndata: {\"a\":\ndata: 1}\n\nevent: delivery\r\nid: 13\r\ndata:x\r\n\r\n";
        let mut events = Vec::new();
        for chunk in stream.chunks(5) {
            events.extend(p.feed(chunk));
        }
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: "delivery".into(),
                    data: "{\"a\":\n1}".into(),
                    id: Some("12".into())
                },
                SseEvent {
                    event: "delivery".into(),
                    data: "x".into(),
                    id: Some("13".into())
                },
            ]
        );
    }

    #[test]
    fn an_event_without_a_name_is_a_message_and_one_without_data_is_dropped() {
        let mut p = SseParser::new();
        let events = p.feed(b"id: 1\n\ndata: hello\n\n");
        assert_eq!(
            events,
            vec![SseEvent {
                event: "message".into(),
                data: "hello".into(),
                id: None
            }]
        );
        assert!(p.feed(b"data: unfinished\n").is_empty());
    }
}
