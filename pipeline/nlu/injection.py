"""Injection-looking payloads: shell, SQL or prompt text riding along with a command.

Entity values never carry such text (`reading` takes them from strict patterns and the
catalog), but a line like `restart portal; rm -rf /` or `approve 3412 || curl evil.sh` was
not typed by someone who simply wants the restart: it was pasted, forwarded or crafted. A
mutating command on such a line is confirmed with the user, never acted on at once.
"""

from __future__ import annotations

import re

# Programs and statements a payload runs after a separator (`; rm`, `&& shutdown`, `| sh`).
_SHELL_COMMANDS = (
    r"rm|curl|wget|sudo|su|cat|echo|shutdown|halt|poweroff|reboot|kill|killall|pkill|chmod|"
    r"chown|mkfs|dd|nc|ncat|netcat|bash|sh|zsh|python\d?|perl|ruby|ls|whoami|id|uname|env|"
    r"eval|exec|mail|base64|scp|ssh|systemctl|kubectl|drop|truncate"
)
_PAYLOAD_RE = re.compile(
    "|".join(
        (
            r"\$\(|\$\{",  # command or variable substitution
            r"&&|\|\|",  # shell command chaining
            r"\|\s*(?:sh|bash|zsh|mail|nc|python\d?|perl|tee)\b",  # piped into a program
            rf";\s*(?:sudo\s+)?(?:{_SHELL_COMMANDS})\b",  # a statement after a separator
            # … or in backticks or on a line of its own (`reboot` there is the bot's own verb)
            rf"(?:`|\n)\s*(?:sudo\s+)?(?!reboot\b)(?:{_SHELL_COMMANDS})\b",
            r"\brm\s+-[a-z]*[rf]",  # rm -rf
            r"\b(?:drop|truncate)\s+(?:table|database)\b|\bdelete\s+from\b|\binsert\s+into\b",
            r"'\s*(?:;|--|or\s+\d+\s*=\s*\d+)",  # a quote closed early: `'; …`, `' OR 1=1`
            r"\bor\s+1\s*=\s*1\b",
            r"<\s*script\b",
            # Instructions to the bot rather than commands (prompt injection).
            r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+|your\s+|the\s+)?"
            r"(?:previous|prior|above|earlier)?\s*(?:instructions|rules|prompts?)\b",
            r"\byou\s+are\s+now\b",
            r"\bbypass\s+(?:the\s+|all\s+)?approvals?\b",
            r"^\s*system\s*:|\nsystem\s*:",
        )
    ),
    re.IGNORECASE,
)


def carries_payload(text: str) -> bool:
    """True when `text` holds shell, SQL or prompt-injection text besides any command."""
    return _PAYLOAD_RE.search(text) is not None
