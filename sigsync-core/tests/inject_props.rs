//! Property tests over random MIME structures: whatever the tree, charsets and encodings, the
//! injector stamps the loop header, passes skips and failures through unchanged, keeps every
//! part it did not change byte-identical, produces a message another parser reads with the
//! same attachments, and recognises its own output.

mod inject_support;

use base64::Engine as _;
use inject_support::*;
use proptest::prelude::*;
use sigsync_core::inject::Outcome;

#[derive(Debug, Clone)]
enum Node {
    Text {
        html: bool,
        charset: &'static str,
        cte: &'static str,
        body: String,
    },
    Attachment(Vec<u8>),
    Forwarded(String),
    Multi(&'static str, Vec<Node>),
}

const SNIPPETS: &[&str] = &[
    "Hello there.",
    "Grüße aus München",
    "Prix: 12 €",
    "-----Original Message-----",
    "From: X <x@y.com>\nSent: Monday",
    "On Mon, Jan 1, 2024 X wrote:",
    "> quoted line",
    "<div class=\"gmail_quote\">old</div>",
    "<div id=\"appendonsend\"></div>",
    "<blockquote type=\"cite\">q</blockquote>",
    "</body>",
    "<!-- comment </body> -->",
    "a = b =3D c",
    "trailing space \nnext",
    ".leading dot",
    "x",
];

fn text_node() -> impl Strategy<Value = Node> {
    (
        any::<bool>(),
        prop::sample::select(vec!["utf-8", "iso-8859-1", "windows-1252", "us-ascii"]),
        prop::sample::select(vec!["7bit", "8bit", "quoted-printable", "base64"]),
        prop::collection::vec(prop::sample::select(SNIPPETS.to_vec()), 1..8),
    )
        .prop_map(|(html, charset, cte, parts)| {
            let mut body = parts.join("\n");
            if html {
                body = format!("<html><body>{body}</body></html>");
            }
            Node::Text {
                html,
                charset,
                cte,
                body,
            }
        })
}

fn tree() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        4 => text_node(),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Node::Attachment),
        1 => "[a-z ]{0,40}".prop_map(Node::Forwarded),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        (
            prop::sample::select(vec!["mixed", "alternative", "related"]),
            prop::collection::vec(inner, 1..4),
        )
            .prop_map(|(sub, kids)| Node::Multi(sub, kids))
    })
}

fn encode_text(body: &str, charset: &str, cte: &str) -> (Vec<u8>, &'static str) {
    let body = body.replace('\n', "\r\n");
    let raw: Vec<u8> = match charset {
        "utf-8" => body.into_bytes(),
        "us-ascii" => body
            .bytes()
            .map(|b| if b.is_ascii() { b } else { b'?' })
            .collect(),
        _ => {
            let enc = encoding_rs::Encoding::for_label(charset.as_bytes()).unwrap();
            enc.encode(&body).0.into_owned()
        }
    };
    match cte {
        "base64" => {
            let s = base64::engine::general_purpose::STANDARD.encode(&raw);
            let lines: Vec<&str> = s
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            (lines.join("\r\n").into_bytes(), "base64")
        }
        "quoted-printable" => {
            let mut out = Vec::new();
            let mut len = 0;
            for &b in &raw {
                let tok: Vec<u8> = match b {
                    b'\r' => continue,
                    b'\n' => {
                        out.extend_from_slice(b"\r\n");
                        len = 0;
                        continue;
                    }
                    33..=60 | 62..=126 => vec![b],
                    _ => format!("={b:02X}").into_bytes(),
                };
                if len + tok.len() > 75 {
                    out.extend_from_slice(b"=\r\n");
                    len = 0;
                }
                len += tok.len();
                out.extend_from_slice(&tok);
            }
            (out, "quoted-printable")
        }
        "8bit" => (raw, "8bit"),
        _ if raw.is_ascii() => (raw, "7bit"),
        _ => (raw, "8bit"),
    }
}

fn render(node: &Node, n: &mut usize, out: &mut Vec<u8>) {
    *n += 1;
    match node {
        Node::Text {
            html,
            charset,
            cte,
            body,
        } => {
            let (bytes, cte) = encode_text(body, charset, cte);
            let sub = if *html { "html" } else { "plain" };
            out.extend_from_slice(
                format!("Content-Type: text/{sub}; charset=\"{charset}\"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n").as_bytes(),
            );
            out.extend_from_slice(&bytes);
        }
        Node::Attachment(data) => {
            out.extend_from_slice(b"Content-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
            out.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(data)
                    .as_bytes(),
            );
        }
        Node::Forwarded(text) => {
            out.extend_from_slice(format!("Content-Type: message/rfc822\r\n\r\nSubject: fwd\r\nContent-Type: text/plain\r\n\r\n{text}").as_bytes());
        }
        Node::Multi(sub, kids) => {
            let b = format!("b{n}_{sub}");
            out.extend_from_slice(
                format!("Content-Type: multipart/{sub}; boundary=\"{b}\"\r\n\r\n").as_bytes(),
            );
            for k in kids {
                out.extend_from_slice(format!("--{b}\r\n").as_bytes());
                render(k, n, out);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(format!("--{b}--\r\n").as_bytes());
        }
    }
}

fn message(node: &Node) -> Vec<u8> {
    let mut out =
        b"From: a@contoso.com\r\nTo: b@example.org\r\nSubject: test\r\nMIME-Version: 1.0\r\n"
            .to_vec();
    render(node, &mut 0, &mut out);
    out
}

fn attachments(msg: &[u8]) -> Vec<Vec<u8>> {
    use mail_parser::{MimeHeaders, PartType};
    let m = mail_parser::MessageParser::default().parse(msg).unwrap();
    m.parts
        .iter()
        .skip(1)
        .filter(|p| match p.body {
            PartType::Multipart(_) => false,
            PartType::Text(_) | PartType::Html(_) => {
                p.content_disposition().is_some_and(|d| d.is_attachment())
                    || p.attachment_name().is_some()
            }
            _ => true,
        })
        .map(|p| p.contents().to_vec())
        .collect()
}

/// Whether a reader sees a text or HTML body in `node` (the documented rule: every child of
/// an alternative, the root of a related, the first child of a mixed and its later inline
/// text and multipart children; attachments and forwarded messages are never bodies).
fn has_body(node: &Node) -> bool {
    match node {
        Node::Text { .. } => true,
        Node::Attachment(_) | Node::Forwarded(_) => false,
        Node::Multi("alternative", kids) => kids.iter().any(has_body),
        Node::Multi("related", kids) => kids.first().is_some_and(has_body),
        Node::Multi(_, kids) => kids.iter().enumerate().any(|(i, k)| {
            (i == 0 || matches!(k, Node::Text { .. } | Node::Multi(..))) && has_body(k)
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn random_structures_keep_every_invariant(node in tree(), images in any::<bool>(), disclaimer in any::<bool>()) {
        let msg = message(&node);
        let mut sig = if images { signature_with_image() } else { signature() };
        if disclaimer {
            sig.disclaimer_html = signature_with_disclaimer().disclaimer_html;
            sig.disclaimer_text = signature_with_disclaimer().disclaimer_text;
        }
        let (outcome, out) = inject_checked(&msg, &sig);
        // Every generated message with a body is signable: nothing else is acceptable.
        if has_body(&node) {
            prop_assert!(outcome.is_injected(), "{:?} for {}", outcome, String::from_utf8_lossy(&msg));
        } else {
            prop_assert_eq!(&outcome, &Outcome::Skipped(sigsync_core::inject::SkipReason::NoTextBody));
        }
        if let Outcome::Injected(_) = outcome {
            let rest = strip_loop_header(&out);
            if !images {
                // Images add parts and may wrap the message: only checked without them.
                assert_untouched_outside_bodies(&msg, &rest);
            }
            let mut before = attachments(&msg);
            let mut after = attachments(&rest);
            // Images we add show up as attachments to mail-parser.
            after.retain(|a| !sig.images.iter().any(|i| &i.data[..] == a.as_slice()));
            before.sort();
            after.sort();
            prop_assert_eq!(before, after);
            assert_idempotent(&out, &sig);
        }
    }
}
