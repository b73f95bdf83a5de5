#!/usr/bin/env python3
"""Signs a folder of .eml files, as the signature service would: each message goes in, the
message to send on comes out (signed, or passed through with the reason), always with the
loop-prevention header.

    python examples/python/inject.py IN_DIR OUT_DIR
    python examples/python/inject.py IN_DIR OUT_DIR --config examples/signature.toml --user examples/user.json
    python examples/python/inject.py IN_DIR OUT_DIR --threads 4 --report report.jsonl

Without --user the configuration's directory supplies the sender's attributes.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import sys
import time
from pathlib import Path
from typing import Any

import sigsync

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Inject signatures into a folder of .eml files.")
    p.add_argument("input", type=Path, help="folder of .eml files")
    p.add_argument("output", type=Path, help="folder for the messages to send on")
    p.add_argument("--config", type=Path, default=HERE.parent / "signature.toml", help="signature configuration")
    p.add_argument("--user", type=Path, help="the sender's attributes (JSON with Graph names)")
    p.add_argument("--sender", help="envelope sender (with --recipients; default: the From header)")
    p.add_argument("--recipients", help="envelope recipients, comma-separated (with --sender; default: To and Cc)")
    p.add_argument("--threads", type=int, default=1, help="messages injected in parallel")
    p.add_argument("--report", type=Path, help="write one JSON line per message here")
    args = p.parse_args(argv)
    if (args.sender is None) != (args.recipients is None):
        p.error("--sender and --recipients form the SMTP envelope: give both or neither")

    try:
        injector = sigsync.Injector(args.config)
    except sigsync.SigsyncError as e:
        print(f"inject: {args.config}: {e}", file=sys.stderr)
        return 2
    user: dict[str, Any] | None = json.loads(args.user.read_text()) if args.user else None
    recipients = [r.strip() for r in args.recipients.split(",")] if args.recipients else None
    files = sorted(f for f in args.input.rglob("*.eml") if f.is_file())
    args.output.mkdir(parents=True, exist_ok=True)

    def one(path: Path) -> dict[str, Any]:
        start = time.perf_counter()
        outcome = injector.inject(path.read_bytes(), sender=args.sender, recipients=recipients, user=user)
        micros = int((time.perf_counter() - start) * 1e6)
        target = args.output / path.relative_to(args.input)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(outcome.message)
        if outcome.failed:
            print(f"inject: {path.name}: failed, passed through: {outcome.reason}", file=sys.stderr)
        return {"file": str(path.relative_to(args.input)), "outcome": outcome.label, "reason": outcome.reason, "micros": micros}

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.threads)) as pool:
        results = list(pool.map(one, files))
    if args.report:
        args.report.write_text("".join(json.dumps(r) + "\n" for r in results))
    counts = collections.Counter(r["outcome"] for r in results)
    print(f"inject: {len(results)} messages: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
