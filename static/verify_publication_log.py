#!/usr/bin/env python3
"""Check a Clearfee (明账) publication log yourself. Python 3 standard library only.

Usage:
    python3 verify_publication_log.py publication-log-DEMO1.json
    python3 verify_publication_log.py publication-log-DEMO1.json --spending spending.json
    python3 verify_publication_log.py --url https://example.org/api/v1/communities/DEMO1/publication-log

What it checks (the rule published in the site's API documentation):
  * entries are numbered 1, 2, 3, ... without gaps;
  * the first entry's prev_hash is 64 zeros, and every later prev_hash equals the hash of
    the entry before it;
  * every hash equals SHA-256(prev_hash + canonical), where canonical is the entry without
    its "hash" field as UTF-8 JSON with sorted keys, separators "," and ":" and Chinese text
    kept as is.
If anything was changed after publication, the hashes from that entry on no longer match, and
the script names the first bad entry. With --spending it also checks that each item of a
downloaded spending file appears in the log with the same amount, date and hash.

Exit status: 0 when intact, 1 when broken, 2 when the input cannot be read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.request

GENESIS = "0" * 64


def canonical(entry):
    body = {key: value for key, value in entry.items() if key != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry):
    return hashlib.sha256((entry["prev_hash"] + canonical(entry)).encode("utf-8")).hexdigest()


def check_chain(entries):
    """(None, "") when the chain holds, else (seq of the first bad entry, reason)."""
    previous = GENESIS
    for expected, entry in enumerate(entries, start=1):
        seq = entry.get("seq")
        if seq != expected:
            return seq, f"编号应为 {expected}，实际为 {seq}（有记录被删除或插入） / seq gap"
        if entry.get("prev_hash") != previous:
            return seq, "prev_hash 与上一条记录的 hash 不一致 / prev_hash mismatch"
        try:
            computed = entry_hash(entry)
        except (KeyError, TypeError) as exc:
            return seq, f"记录缺少字段 / malformed entry: {exc}"
        if computed != entry.get("hash"):
            return seq, "内容与 hash 不符（记录被改动过） / content does not match hash"
        previous = entry["hash"]
    return None, ""


def check_spending(entries, spending):
    """Problems found when matching a spending download against the log."""
    by_seq = {entry["seq"]: entry for entry in entries}
    problems = []
    for item in spending.get("items", []):
        entry = by_seq.get(item.get("seq"))
        if entry is None:
            problems.append(f"支出 {item.get('id')}：记录链中没有第 {item.get('seq')} 条")
            continue
        payload = entry.get("payload", {})
        if (
            entry.get("kind") != "spending"
            or entry.get("record_id") != item.get("id")
            or entry.get("hash") != item.get("hash")
            or payload.get("amount_fen") != item.get("amount_fen")
            or payload.get("date") != item.get("date")
        ):
            problems.append(f"支出 {item.get('id')}：与记录链第 {item.get('seq')} 条不一致")
    return problems


def load(path=None, url=None):
    if url:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - user's URL
            return json.load(response)
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def main(argv=None):
    parser = argparse.ArgumentParser(description="核验明账公示记录链 / verify a publication log")
    parser.add_argument("file", nargs="?", help="publication-log-XXX.json")
    parser.add_argument("--url", help="download the log from this address instead")
    parser.add_argument("--spending", help="a spending JSON download to cross-check")
    args = parser.parse_args(argv)
    if not args.file and not args.url:
        parser.error("give a file or --url")
    try:
        document = load(args.file, args.url)
        entries = document["entries"] if isinstance(document, dict) else document
        if not isinstance(entries, list):
            raise ValueError("entries is not a list")
    except (OSError, ValueError, KeyError) as exc:
        print(f"无法读取 / cannot read: {exc}")
        return 2
    bad_seq, reason = check_chain(entries)
    if bad_seq is not None:
        print(f"已损坏 BROKEN：第 {bad_seq} 条记录出错 (seq {bad_seq}) — {reason}")
        return 1
    if args.spending:
        try:
            spending = load(args.spending)
        except (OSError, ValueError) as exc:
            print(f"无法读取 / cannot read: {exc}")
            return 2
        problems = check_spending(entries, spending)
        if problems:
            for problem in problems:
                print(problem)
            print(f"已损坏 BROKEN：{len(problems)} 笔支出与记录链不符")
            return 1
        print(f"支出明细 {len(spending.get('items', []))} 笔均与记录链一致")
    last = entries[-1]["hash"] if entries else GENESIS
    print(f"完整 OK：共 {len(entries)} 条记录，链条完整；最新 hash {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
