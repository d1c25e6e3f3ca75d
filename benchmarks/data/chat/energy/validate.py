#!/usr/bin/env python3
"""Validate blind8 lines.jsonl against the label format and catalog.yaml (stdlib + yaml)."""
import json, sys, os, collections
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
INTENTS = ["status", "list_incidents", "show_incident", "approve", "deny", "ack", "silence",
           "unsilence", "remediate", "explain", "escalate", "history", "help", "unknown"]
TYPES = {"incident": int, "service": str, "instance": str, "region": str, "action": str,
         "capacity": int, "duration_s": int, "alertname": str, "target": str}
ACTIONS = {"restart", "reboot", "scale", "redeploy", "start"}

def main(path=os.path.join(HERE, "lines.jsonl"), cat=os.path.join(HERE, "catalog.yaml")):
    c = yaml.safe_load(open(cat))
    assert set(c) == {"services", "alerts"}, c.keys()
    names = set()
    for s in c["services"]:
        assert set(s) == {"name", "aliases"}, s
        names.add(s["name"])
    alerts = set(c["alerts"])
    errs, counts, sessions, texts = [], collections.Counter(), collections.Counter(), collections.Counter()
    for n, raw in enumerate(open(path, encoding="utf-8"), 1):
        if not raw.strip():
            errs.append(f"{n}: blank line"); continue
        try:
            d = json.loads(raw)
        except Exception as e:
            errs.append(f"{n}: bad json {e}"); continue
        if not isinstance(d, dict):
            errs.append(f"{n}: not an object"); continue
        extra = set(d) - {"text", "intent", "entities", "session"}
        if extra or "text" not in d or "intent" not in d or "entities" not in d:
            errs.append(f"{n}: keys {sorted(d)}"); continue
        if not isinstance(d["text"], str) or not d["text"].strip():
            errs.append(f"{n}: empty text")
        texts[d["text"]] += 1
        if d["intent"] not in INTENTS:
            errs.append(f"{n}: intent {d['intent']!r}")
        counts[d["intent"]] += 1
        if "session" in d:
            if not isinstance(d["session"], str) or not d["session"]:
                errs.append(f"{n}: session {d['session']!r}")
            sessions[d["session"]] += 1
        e = d["entities"]
        if not isinstance(e, dict):
            errs.append(f"{n}: entities not dict"); continue
        for k, v in e.items():
            if k not in TYPES:
                errs.append(f"{n}: entity key {k!r}"); continue
            if type(v) is not TYPES[k]:
                errs.append(f"{n}: {k} type {type(v).__name__}")
                continue
            if k == "service" and v not in names:
                errs.append(f"{n}: service {v!r} not in catalog")
            if k == "action" and v not in ACTIONS:
                errs.append(f"{n}: action {v!r}")
            if k == "alertname" and v not in alerts:
                errs.append(f"{n}: alertname {v!r} not in catalog alerts")
            if k in ("incident", "capacity", "duration_s") and v <= 0:
                errs.append(f"{n}: {k} not positive")
            if k == "instance" and not v.startswith("i-"):
                errs.append(f"{n}: instance {v!r}")
            if k == "target" and v.startswith("@"):
                errs.append(f"{n}: target with leading @")
        if d["intent"] == "unknown" and e:
            errs.append(f"{n}: unknown line carries entities")
        if d["intent"] == "remediate" and "action" not in e:
            errs.append(f"{n}: remediate without action")
    for t, k in texts.items():
        if k > 1:
            print(f"note: text repeated {k}x: {t!r}")
    singles = [s for s, k in sessions.items() if k < 2]
    if singles:
        print("note: single-line sessions:", singles)
    total = sum(counts.values())
    print(f"{total} lines, {len(sessions)} sessions ({sum(sessions.values())} lines in sessions)")
    for i in INTENTS:
        print(f"  {i:15s} {counts[i]:5d}  {100*counts[i]/max(total,1):5.1f}%")
    for x in errs:
        print("ERROR", x)
    print("errors:", len(errs))
    return 1 if errs else 0

if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
