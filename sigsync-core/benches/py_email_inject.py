"""Baseline for benches/inject.rs: the same insertion done with Python's `email` package.

Reads a list of .eml paths (one per line) on stdin, loads them, then times, per message:
parse (policy=default), skip signed/encrypted/report/calendar mail as the engine does, insert
the HTML signature before </body> (or at the end) of each text/html body and the text
signature at the end of each text/plain body (set_content keeps the charset where it can),
and serialise. Runs the list `rounds` times (argument 1) and prints one JSON object with
the best round's time (the same best-of measure as the Rust side) and the outcome counts of a
round: injected (a body changed), skipped (a kind it leaves alone, or no body) and failed (an
exception; the message would pass through).
"""
import email
import email.policy
import json
import sys
import time

SIG_HTML = '<div data-sigsync="server"><p>Zoë Ångström<br>Contoso € — contoso.com</p></div>'
SIG_TEXT = "-- \nZoë Ångström | Contoso €\nhttps://contoso.com\n"
SKIP = {"multipart/signed", "multipart/encrypted", "application/pkcs7-mime",
        "multipart/report", "text/calendar"}


def inject(data):
    """The message to send on, and its outcome label."""
    try:
        return inject_or_raise(data)
    except Exception:  # noqa: BLE001
        return data, "failed"


def inject_or_raise(data):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    parts = list(msg.walk())
    if any(p.get_content_type() in SKIP for p in parts):
        return data, "skipped"
    changed = False
    for part in parts:
        if part.is_multipart() or part.is_attachment():
            continue
        ct = part.get_content_type()
        if ct not in ("text/plain", "text/html"):
            continue
        try:
            content = part.get_content()
        except Exception:  # noqa: BLE001  (unknown charset, bad encoding: pass through)
            continue
        if ct == "text/html":
            i = content.lower().rfind("</body>")
            content = content[:i] + SIG_HTML + content[i:] if i >= 0 else content + SIG_HTML
            sub = "html"
        else:
            content = content + "\n" + SIG_TEXT
            sub = "plain"
        cte = part.get("Content-Transfer-Encoding", "7bit").lower()
        cte = cte if cte in ("quoted-printable", "base64", "8bit") else None
        try:
            part.set_content(content, subtype=sub, charset="utf-8", cte=cte)
        except Exception:  # noqa: BLE001
            part.set_content(content, subtype=sub, charset="utf-8")
        changed = True
    return msg.as_bytes(), "injected" if changed else "skipped"


def main():
    paths = [l.strip() for l in sys.stdin if l.strip()]
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    data = [open(p, "rb").read() for p in paths]
    total = sum(map(len, data))
    best = None
    counts = {"injected": 0, "skipped": 0, "failed": 0}
    for r in range(rounds):
        start = time.perf_counter()
        labels = [inject(d)[1] for d in data]
        secs = time.perf_counter() - start
        best = secs if best is None else min(best, secs)
        if r == 0:
            for label in labels:
                counts[label] += 1
    json.dump({"messages_per_round": len(data), "bytes_per_round": total,
               "rounds": rounds, "best_round_seconds": best, "outcomes": counts}, sys.stdout)


if __name__ == "__main__":
    main()
