"""Checks injected messages with Python's email package (a second, independent parser).

Reads a JSON list of {path, orig, html_marker, text_marker} on stdin; prints a JSON list
of problems. For every body (text/plain and text/html parts that are not attachments and not
inside a forwarded message/rfc822), the signature must be in exactly one body of each kind,
above the first quoted-history marker when there is one, else at the end.
"""
import email
import email.policy
import json
import re
import sys

HTML_MARKERS = [r'id="(x_)*appendonsend"', r'id="(x_)*divRplyFwdMsg"', r'class="gmail_quote',
                r'type="cite"', r'class="moz-cite-prefix"', r'border-top:solid #E1E1E1',
                r'class="moz-forward-container"']
TEXT_MARKERS = [r'^-{2,}[^\n]*\w[^\n]*-{2,}\r?$', r'^_{10,}\r?$', r'wrote:\r?$', r'^From: ',
                r'^> ', r'^Begin forwarded message:']


def bodies(msg):
    out = []

    def walk(part):
        ct = part.get_content_type()
        if part.is_multipart():
            for p in part.iter_parts():
                walk(p)
            return
        if ct == "message/rfc822" or part.is_attachment():
            return
        if ct in ("text/plain", "text/html"):
            out.append(part)

    walk(msg)
    return out


def strip_tags(s):
    s = re.sub(r"<!--.*?-->", "", s, flags=re.S)
    return re.sub(r"<[^>]*>", "", s).replace("&nbsp;", " ").strip()


def check(item):
    problems = []
    with open(item["path"], "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    if msg.defects:
        problems.append(f"top-level defects {msg.defects}")
    with open(item["orig"], "rb") as f:
        orig = email.message_from_binary_file(f, policy=email.policy.default)
    kinds = {"html" if p.get_content_type() == "text/html" else "text" for p in bodies(orig)}
    found = {"html": 0, "text": 0}
    for part in bodies(msg):
        kind = "html" if part.get_content_type() == "text/html" else "text"
        try:
            content = part.get_content()
        except Exception as e:  # noqa: BLE001
            problems.append(f"{kind} body does not decode: {e}")
            continue
        marker = item["html_marker"] if kind == "html" else item["text_marker"]
        pos = content.find(marker)
        if pos < 0:
            continue
        found[kind] += 1
        if content.count(marker) != 1:
            problems.append(f"{kind}: signature {content.count(marker)} times")
        pats = HTML_MARKERS if kind == "html" else TEXT_MARKERS
        quote = [m.start() for p in pats for m in re.finditer(p, content, re.M)]
        if quote:
            if pos > min(quote):
                problems.append(f"{kind}: signature below the quoted history")
        else:
            tail = content[pos:]
            if kind == "html":
                end = tail.find("</div>")
                rest = strip_tags(tail[end:]) if end >= 0 else ""
                rest = rest.replace("Confidential: for the named recipient only.", "").strip()
                if rest:
                    problems.append(f"html: content after the signature: {rest[:80]!r}")
            else:
                rest = tail.split("https://contoso.com", 1)[-1]
                rest = rest.replace("Confidential: for the named recipient only.", "").strip()
                if rest:
                    problems.append(f"text: content after the signature: {rest[:80]!r}")
    for kind in ("html", "text"):
        want = 1 if kind in kinds else 0
        if found[kind] != want:
            problems.append(f"{kind}: signature in {found[kind]} bodies, expected {want}")
    return [f"{item['path']}: {p}" for p in problems]


def main():
    items = json.load(sys.stdin)
    problems = []
    for item in items:
        try:
            problems += check(item)
        except Exception as e:  # noqa: BLE001
            problems.append(f"{item['path']}: python raised {e!r}")
    json.dump(problems, sys.stdout)


if __name__ == "__main__":
    main()
