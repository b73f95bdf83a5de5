"""An integrity check of injected mail by Python's `email` package, independent of the injector.

Reads a JSON list of {orig, out, outcome, html_marker, text_marker} on stdin; prints a JSON list
of problems. For every message:

- exactly one loop header, with the configured value; the other header fields as before
  (content fields may change when the message was signed), the mbox envelope line kept;
- no new parse defects anywhere in the message;
- every part that is not a body (attachments, images, forwarded messages) decodes to the
  same bytes as before;
- when signed: every body decodes, each kind of body (plain, HTML) that the message has
  shows the signature exactly once, and each original body is still there but for the
  text inserted at one or two points;
- no line over 998 octets that the original did not have.
"""
import email
import email.policy
import json
import sys

LOOP = "X-Sigsync-Processed"


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def defects(msg):
    out = set()
    for part in msg.walk():
        for d in part.defects:
            out.add(type(d).__name__)
    return out


def leaves(msg):
    """(bodies, other leaves) in document order; forwarded messages are opaque."""
    bodies, others = [], []

    def walk(part):
        ct = part.get_content_type()
        if ct == "message/rfc822":
            others.append(part)
            return
        if part.is_multipart():
            for p in part.iter_parts():
                walk(p)
            return
        if ct in ("text/plain", "text/html") and not part.is_attachment():
            bodies.append(part)
        else:
            others.append(part)

    walk(msg)
    return bodies, others


def payload(part):
    try:
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list):
                return [m.as_bytes() for m in inner]
        return part.get_payload(decode=True)
    except Exception as e:  # noqa: BLE001
        return repr(e)


def spliced(old, new):
    """Whether `new` is `old` with text inserted at one or two points (the signature above
    the history, the disclaimer at the end): every original character kept, in runs."""
    n = min(len(old), len(new))
    p = 0
    while p < n and old[p] == new[p]:
        p += 1
    q = 0
    while q < n - p and old[len(old) - 1 - q] == new[len(new) - 1 - q]:
        q += 1
    mid = old[p:len(old) - q]
    return mid == "" or mid in new[p:len(new) - q]


def original_text(part):
    """A body's text as mail clients show it: by its charset, and as UTF-8 when it
    declares none and its bytes are valid UTF-8 (the injector declares UTF-8 then)."""
    try:
        if part.get_param("charset") is None:
            raw = part.get_payload(decode=True)
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return part.get_content()
    except Exception:  # noqa: BLE001
        return None


def header_items(msg, signed):
    items = []
    for k, v in msg.items():
        k2 = k.lower()
        if k2 == LOOP.lower():
            continue
        if signed and (k2.startswith("content-") or k2 == "mime-version"):
            continue
        items.append((k, str(v)))
    return items


def check(item):
    problems = []
    orig_raw = open(item["orig"], "rb").read()
    out_raw = open(item["out"], "rb").read()
    signed = item["outcome"] == "injected"
    orig, out = parse(orig_raw), parse(out_raw)
    loops = out.get_all(LOOP) or []
    if [str(v) for v in loops] != ["true"]:
        problems.append(f"loop headers {loops!r}")
    if out.get_unixfrom() != orig.get_unixfrom():
        problems.append("the mbox envelope line changed")
    if header_items(out, signed) != header_items(orig, signed):
        problems.append("header fields changed")
    new = defects(out) - defects(orig)
    if new:
        problems.append(f"new defects {sorted(new)}")
    ob, oo = leaves(orig)
    nb, no = leaves(out)
    no = [p for p in no if p.get("Content-ID", "").strip("<>") != "logo@sigsync"]
    if [payload(p) for p in no] != [payload(p) for p in oo]:
        problems.append("a part that is not a body changed")
    if signed:
        kinds = {"html" if p.get_content_type() == "text/html" else "text" for p in ob}
        found = {"html": 0, "text": 0}
        if len(nb) != len(ob):
            problems.append(f"{len(ob)} bodies became {len(nb)}")
        for new_part, old_part in zip(nb, ob):
            kind = "html" if new_part.get_content_type() == "text/html" else "text"
            try:
                new_part.get_content()
            except Exception as e:  # noqa: BLE001
                problems.append(f"{kind} body does not decode: {e!r}")
                continue
            content = original_text(new_part)
            marker = item["html_marker"] if kind == "html" else item["text_marker"]
            found[kind] += content.count(marker)
            before = original_text(old_part)
            if "CloseBoundaryNotFoundDefect" in defects(orig):
                # Python misreads such a multipart (a close delimiter straight after an
                # opening one reads as no close delimiter, the epilogue as a body): its
                # bodies cannot be compared with ours.
                before = None
            if before is not None and not spliced(before.replace("\r\n", "\n"), content.replace("\r\n", "\n")):
                problems.append(f"{kind} body lost or changed original text")
        for kind in ("html", "text"):
            want = 1 if kind in kinds else 0
            if found[kind] != want:
                problems.append(f"{kind}: signature shown {found[kind]} times, expected {want}")
    old_long = {l for l in orig_raw.split(b"\n") if len(l.rstrip(b"\r")) > 998}
    for l in out_raw.split(b"\n"):
        if len(l.rstrip(b"\r")) > 998 and l not in old_long:
            problems.append(f"a new line of {len(l)} octets")
            break
    return [f"{item['orig']}: {p}" for p in problems]


def main():
    problems = []
    for item in json.load(sys.stdin):
        try:
            problems += check(item)
        except Exception as e:  # noqa: BLE001
            problems.append(f"{item['orig']}: python raised {e!r}")
    json.dump(problems, sys.stdout)


if __name__ == "__main__":
    main()
