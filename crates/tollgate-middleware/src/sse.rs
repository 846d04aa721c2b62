//! A Server-Sent Events parser (the WHATWG event-stream format), fed with the body's chunks.
//!
//! Lines end in `\n` or `\r\n` (tollgate's server writes `\n`); a lone `\r` is not taken for a line
//! end. Fields: `event`, `data` (lines joined by `\n`), `id`; `retry` and unknown fields are
//! ignored; a line starting with `:` is a comment (a keep-alive). A blank line ends a message.

/// One message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Message {
    pub(crate) event: String,
    pub(crate) data: String,
    pub(crate) id: Option<String>,
}

/// A message's line grew past the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an event-stream line exceeds {0} bytes")]
pub(crate) struct TooLong(pub(crate) usize);

#[derive(Debug)]
pub(crate) struct Parser {
    line: Vec<u8>,
    current: Message,
    has_data: bool,
    max_line: usize,
}

impl Parser {
    pub(crate) fn new(max_line: usize) -> Self {
        Self {
            line: Vec::new(),
            current: Message::default(),
            has_data: false,
            max_line,
        }
    }

    /// Parses `chunk`, appending every message it completes to `out`.
    pub(crate) fn push(&mut self, chunk: &[u8], out: &mut Vec<Message>) -> Result<(), TooLong> {
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            self.line.extend_from_slice(&rest[..i]);
            rest = &rest[i + 1..];
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out);
            self.line = line;
            self.line.clear();
        }
        self.line.extend_from_slice(rest);
        if self.line.len() > self.max_line {
            return Err(TooLong(self.max_line));
        }
        Ok(())
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<Message>) {
        if line.is_empty() {
            if self.has_data {
                out.push(std::mem::take(&mut self.current));
            } else {
                // A message without data is not dispatched, but its id still counts.
                let id = self.current.id.take();
                self.current = Message::default();
                self.current.id = id;
            }
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (&*line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.current.event),
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.current.id = Some(value.to_owned()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&str]) -> Vec<Message> {
        let mut p = Parser::new(1024);
        let mut out = Vec::new();
        for c in chunks {
            p.push(c.as_bytes(), &mut out).unwrap();
        }
        out
    }

    #[test]
    fn messages_split_anywhere_are_put_together() {
        let text =
            ": keep-alive\n\nevent: revoked\nid: b-1\ndata: {\"a\":\ndata: 1}\n\r\ndata:x\n\n";
        let whole = parse(&[text]);
        assert_eq!(
            whole,
            [
                Message {
                    event: "revoked".into(),
                    data: "{\"a\":\n1}".into(),
                    id: Some("b-1".into()),
                },
                Message {
                    event: String::new(),
                    data: "x".into(),
                    id: None,
                },
            ]
        );
        for cut in 0..text.len() {
            assert_eq!(parse(&[&text[..cut], &text[cut..]]), whole, "cut at {cut}");
        }
    }

    #[test]
    fn a_line_past_the_limit_is_an_error() {
        let mut p = Parser::new(8);
        let mut out = Vec::new();
        assert_eq!(p.push(b"data: 0123456789", &mut out), Err(TooLong(8)));
    }
}
