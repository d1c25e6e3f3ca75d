"""Synthetic training corpus: phrasing templates per intent, expanded with placeholder slots.

Slots stand for entity mentions exactly as `reading.read` masks them, so the classifier
learns the shape of a command (`restart <svc>`), never the names of one catalog.
Slots: {svc} service, {alert} alert name, {inst} EC2 id, {region}, {dur} duration,
{inc} incident reference, {cap} capacity, {target} escalation target, {act} action verb.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from functools import lru_cache

TEMPLATES: dict[str, tuple[str, ...]] = {
    "status": (
        "how is the {svc}", "how is {svc} doing today", "is {svc} slow", "did {svc} recover",
        "is it back", "overall platform state", "is {svc} acting up", "{svc} ok or not",
        "status", "status of {svc}", "{svc} status", "status for {svc}", "status {svc}",
        "how is {svc} doing", "how's {svc}", "how is {svc}", "how are things", "hows everything",
        "is {svc} healthy", "is {svc} ok", "is {svc} up", "is {svc} down", "is {svc} alive",
        "health check {svc}", "health of {svc}", "{svc} health", "check {svc}", "check on {svc}",
        "how healthy is {svc}", "overall status", "system status", "give me a status update",
        "what's the status", "what is the status of {svc}", "status report", "sitrep",
        "anything wrong with {svc}", "is everything ok", "are we healthy", "how are we doing",
        "quick health check", "status of {svc} in {region}", "how is {inst} doing",
        "is {inst} healthy", "status of {inst}", "state of {svc}", "is {svc} degraded",
        "what's up with {svc}", "how's {svc} looking", "how does {svc} look", "{svc} ok?",
        "any anomalies on {svc}", "anomaly scores for {svc}", "dashboard for {svc}",
        "is {svc} working", "how is it doing", "status of it", "is it healthy now",
        "is it back up", "how's it looking now", "health", "give me the overview",
        "summary of {svc}", "how is {svc} performing", "current state of the system",
        "tell me how {svc} is doing", "is anything wrong with {svc}", "are the {svc} ok",
        "everything ok", "all good?", "{svc} health check", "how is {svc} holding up",
        "latency on {svc}", "error rate of {svc}", "metrics for {svc}", "cpu on {svc}",
        "is {svc} still broken", "is {svc} recovering", "status of {inst} in {region}",
    ),
    "list_incidents": (
        "what's open at the moment", "anything new overnight", "which ones are unresolved",
        "show the open ones", "what is on fire today", "what's paging right now",
        "list incidents", "incidents", "open incidents", "show incidents", "list open incidents",
        "what's firing", "what is firing", "what's currently firing", "anything firing",
        "what's on fire", "what is on fire", "whats broken", "what is broken right now",
        "open incidents for {svc}", "incidents for {svc}", "incidents on {svc}",
        "list incidents for {svc}", "show me open incidents", "any open incidents",
        "are there any incidents", "active incidents", "current incidents",
        "what's going on", "what is happening", "what's wrong", "what alerts are firing",
        "list alerts", "firing alerts", "show firing alerts on {svc}", "what's burning",
        "any problems", "any issues right now", "outstanding incidents", "unresolved incidents",
        "list all incidents", "incidents in {region}", "which incidents are open",
        "show {alert} incidents", "incidents with {alert}", "where is {alert} firing",
        "what broke", "list problems", "anything on fire", "show me what's firing on {svc}",
        "incident list", "all open incidents please", "what needs attention",
        "is anything firing for {svc}", "list the incidents", "what incidents do we have",
        "do we have any open incidents", "do we have incidents on {svc}",
        "list every incident with {alert}", "list incidents with {alert}", "anything broken in {svc}",
        "what's currently burning", "any fires", "what's red right now", "incidents today",
        "show open {alert} incidents", "what is firing in {region}", "is anything down",
    ),
    "show_incident": (
        "show incident {inc}", "show {inc}", "details {inc}", "details of {inc}",
        "details for {inc}", "incident {inc}", "{inc}", "describe {inc}", "describe incident {inc}",
        "what is {inc}", "what's {inc}", "what's going on with {inc}", "tell me about {inc}",
        "info on {inc}", "info {inc}", "more info on {inc}", "look at {inc}", "open {inc}",
        "show me {inc}", "get {inc}", "pull up {inc}", "summary of {inc}", "view {inc}",
        "what happened in {inc}", "show details", "show it", "details", "more details",
        "tell me more", "show me the incident", "details please", "what's in {inc}",
        "show me incident {inc} details", "incident details {inc}", "display {inc}",
        "what is incident {inc} about", "give me the details of {inc}",
        "can i see {inc}", "let me see {inc}", "what does {inc} look like", "show me {inc} please",
        "what's the story with {inc}", "status of {inc}", "how is {inc} going", "where are we on {inc}",
        "lookup {inc}", "fetch {inc}", "inspect {inc}", "show incident",
    ),
    "approve": (
        "ship it", "send it", "shipit {inc}", "approve {inc} pls the team is waiting",
        "approve {inc}", "approve", "approve it", "approved {inc}", "approve the fix for {inc}",
        "go ahead with {inc}", "go ahead", "go ahead with it", "lgtm {inc}", "lgtm",
        "yes", "yes do it", "yes go ahead", "do it", "ok do it", "proceed", "proceed with {inc}",
        "confirm {inc}", "confirmed", "ship it", "i approve {inc}", "approval granted for {inc}",
        "you can go ahead with {inc}", "green light {inc}", "approve the remediation for {inc}",
        "approve the restart for {inc}", "sure go for it", "go for it", "yep", "yes please",
        "approve that", "ok approve", "sounds good do it", "accept {inc}", "go for it on {inc}",
        "yes approve {inc}", "approve the fix", "approve the plan for {inc}", "go on", "ok go ahead",
        "execute the plan for {inc}", "run it", "apply the fix for {inc}", "signed off on {inc}",
        "let it run", "allow {inc}", "permission granted",
    ),
    "deny": (
        "deny {inc}", "deny", "deny it", "reject {inc}", "reject", "reject it", "decline {inc}",
        "no", "no don't", "no dont", "don't", "don't do it", "do not do that", "nope",
        "cancel", "cancel it", "cancel {inc}", "abort", "abort {inc}", "stop", "stop it",
        "hold off", "hold off on {inc}", "not now", "veto {inc}", "refuse {inc}",
        "denied", "rejected {inc}", "no way", "don't restart it", "no, leave it",
        "leave it alone", "do not proceed with {inc}", "nah", "negative", "don't approve {inc}",
        "block {inc}", "wait no", "no do not", "cancel the remediation for {inc}",
        "cancel the restart", "don't run it", "do not restart {svc}", "stop the remediation on {inc}",
        "nah reject it", "no, cancel {inc}", "not approved", "deny the plan for {inc}",
        "that's a no", "no thanks", "never mind", "scrap that",
    ),
    "ack": (
        "ack {inc}", "ack", "ack it", "acknowledge {inc}", "acknowledged {inc}", "acked {inc}",
        "acknowledge", "i'm on {inc}", "on it", "i'm on it", "looking into {inc}",
        "i'll take {inc}", "i got {inc}", "mine {inc}", "claim {inc}", "taking {inc}",
        "i'll look at it", "i'm looking at {inc}", "investigating {inc}", "ack that",
        "acknowledging {inc}", "seen {inc}", "got it, looking", "i will handle {inc}",
        "assign {inc} to me", "take ownership of {inc}", "ack incident {inc}", "acknowledge it",
        "roger {inc}", "ack all for {svc}", "i got this one {inc}", "got it {inc}",
        "i've got {inc}", "working on {inc}", "handling {inc}", "i'm handling it", "mine",
        "ack the {svc} incident", "acknowledge the {alert} alert", "on it {inc}",
    ),
    "silence": (
        "shh {svc}", "shh {svc} for {dur}", "keep {svc} quiet for {dur}", "hush {alert} on {svc}",
        "silence {alert} on {svc} for {dur}", "silence {alert} for {dur}", "silence {svc} for {dur}",
        "mute {svc} for {dur}", "mute {alert} for {dur}", "mute {alert} on {svc}",
        "silence {alert}", "silence {svc}", "snooze {alert} for {dur}", "snooze {svc} {dur}",
        "silence it for {dur}", "mute it for {dur}", "mute it", "silence it", "snooze it",
        "shut up {alert} for {dur}", "suppress {alert} on {svc} for {dur}", "quiet {svc} for {dur}",
        "silence alerts for {svc} for {dur}", "silence {inc} for {dur}", "mute {inc}",
        "stop alerting on {svc} for {dur}", "stop paging about {alert} for {dur}",
        "mute {alert} alerts on {svc} for the next {dur}", "silence {alert} in {region} for {dur}",
        "put a silence on {svc} for {dur}", "create a silence for {alert} on {svc}",
        "snooze {alert} on {svc}", "silence that for {dur}", "mute the {svc} alerts",
        "silence {svc} {alert} {dur}", "hush {svc} for {dur}", "suppress {svc} alerts",
        "silence {alert} on {inst} for {dur}", "mute {alert} {dur}",
        "shut up {alert}", "silence alerts on {svc} for {dur}", "mute {alert} on {svc} for {dur}",
        "silence {alert} in {region} for {dur}", "snooze {svc} alerts until later",
        "don't page me about {alert} for {dur}", "be quiet about {svc} for {dur}",
        "mute notifications for {svc} for {dur}", "add a silence for {svc} {dur}",
    ),
    "unsilence": (
        "unsilence {alert} on {svc}", "unsilence {svc}", "unsilence {alert}", "unmute {svc}",
        "unmute {alert}", "unmute {alert} on {svc}", "unsnooze {svc}", "unsnooze {alert}",
        "remove the silence on {svc}", "remove silence for {alert}", "lift the silence on {svc}",
        "delete the silence for {alert} on {svc}", "end the silence on {svc}",
        "resume alerts for {svc}", "resume alerting on {alert}", "unmute it", "unsilence it",
        "turn alerts back on for {svc}", "stop silencing {svc}", "cancel the silence on {alert}",
        "expire the silence on {svc}", "re-enable {alert} alerts", "un-mute {svc}",
        "unmute {inc}", "unsilence {inc}", "bring back {alert} alerts on {svc}",
        "unmute the {svc}", "stop silencing {alert}", "remove the mute on {svc}",
        "turn {alert} alerts back on", "start alerting on {svc} again", "clear the silence on {svc}",
    ),
    "remediate": (
        "would you mind restarting {svc}", "could we {act} {svc}", "if possible {act} {svc}",
        "{act} {svc}", "{act} {inst}", "{act} {inst} in {region}", "{act} the {svc} service",
        "please {act} {svc}", "can you {act} {svc}", "{act} {svc} now", "{act} it", "{act} that",
        "{act} {svc} in {region}", "scale {svc} to {cap}", "scale {svc} up to {cap}",
        "scale {svc} to {cap} replicas", "scale out {svc} to {cap}", "set {svc} capacity to {cap}",
        "resize {svc} to {cap}", "scale it to {cap}", "bump {svc} to {cap} instances",
        "add capacity to {svc}", "scale up {svc}", "scale {svc} down to {cap}",
        "redeploy {svc}", "roll out {svc} again", "rollback {svc}", "roll back {svc}",
        "revert {svc} to the previous release", "roll back {svc} to yesterday's build", "redeploy {svc} in {region}", "redeploy it",
        "start {inst}", "start {inst} in {region}", "power on {inst}", "bring up {inst}",
        "spin up {inst}", "boot {inst}", "reboot {inst}", "reboot the box {inst}",
        "restart {svc} pods", "bounce {svc}", "kick {svc}", "bounce it", "restart the {svc} pods",
        "fix {svc}", "remediate {svc}", "remediate {inc}", "run remediation on {svc}",
        "try restarting {svc}", "{act} {svc} please", "could you {act} {svc} for me",
        "{act} {svc} for {inc}", "{act} {svc} because of {inc}", "{act} {inst} on {svc}",
        "i need a {act} of {svc}", "do a {act} of {svc}", "trigger a {act} on {svc}",
        "{act} {svc} asap", "{act} all {svc} instances", "{act} {svc} again",
        "kick the {svc} please", "give {svc} a kick", "bounce the {svc} pods", "restart the service",
        "restart everything on {svc}", "scale out {svc} to {cap}", "scale the {svc} service to {cap}",
        "add more {svc} replicas", "roll {svc}", "rolling restart of {svc}", "restart {svc} {inst}",
        "cycle the {svc} nodes", "please restart", "restart", "reboot it", "start it",
        "kick it", "restart {svc} in {region} please", "reboot {inst} please",
    ),
    "explain": (
        "talk me through {inc}", "explain like i'm five", "tldr", "how certain are you about {inc}",
        "what could go wrong with {inc}", "what's the risk here", "what's the reasoning",
        "explain {inc}", "explain incident {inc}", "why {inc}", "why is {inc} risky",
        "why?", "why", "why is it risky", "why is that", "explain", "explain it", "explain that",
        "why is {svc} risky", "why did {inc} fire", "why did you flag {inc}",
        "what's the risk on {inc}", "risk factors for {inc}", "risk of {inc}",
        "what caused {inc}", "root cause of {inc}", "what's the root cause",
        "why was {inc} opened", "reason for {inc}", "what's the reason", "how come",
        "why does {inc} need approval", "explain the risk score for {inc}",
        "why is {svc} flagged", "what evidence for {inc}", "show the anomaly evidence for {inc}",
        "why do you think so", "explain the decision on {inc}", "why this score",
        "why is {svc} anomalous", "what made {inc} high risk", "justify {inc}",
        "why is the risk high", "why would you {act} {svc}", "why restart",
        "what made {inc} high risk", "explain the score for {inc}", "why the high score",
        "what's the evidence", "why is {svc} anomalous", "explain {svc}", "why is {svc} slow",
        "why is {svc} down", "what's behind {inc}", "break down the risk for {inc}",
    ),
    "escalate": (
        "raise {inc} with {target}", "push {inc} up the chain", "get {target} involved in {inc}",
        "hand {inc} over to {target}", "this needs {target} on {inc}",
        "escalate {inc}", "escalate {inc} to {target}", "escalate", "escalate it",
        "escalate it to {target}", "escalate to {target}", "page {target}", "page {target} about {inc}",
        "page someone", "page the oncall", "wake up {target}", "get {target} on this",
        "loop in {target}", "loop in {target} on {inc}", "notify {target} about {inc}",
        "hand {inc} over to {target}", "pass {inc} to {target}", "forward {inc} to {target}",
        "escalate {inc} please", "this needs escalation", "escalate this to {target}",
        "call {target}", "ping {target} about {inc}", "escalate {svc} incident to {target}",
        "bump {inc} to {target}", "raise {inc} with {target}", "escalate {inc} to the {target}",
        "need help from {target} on {inc}", "escalate to oncall", "send {inc} to {target}",
        "this needs escalation {inc}", "escalate this", "page {target} now", "get the oncall",
        "wake someone up for {inc}", "escalate {inc} to {target} please", "bring in {target}",
    ),
    "history": (
        "history", "history for {svc}", "remediation history for {svc}", "{svc} history",
        "what did you do today", "what did you do", "what have you done", "what actions did you take",
        "recent actions", "last actions on {svc}", "last actions", "actions on {svc}",
        "audit log", "audit log for {svc}", "show audit trail", "what changed on {svc}",
        "what happened to {svc}", "what happened to {svc} today", "past remediations",
        "show history of {inc}", "history of {inc}", "timeline of {inc}", "audit {inc}",
        "who approved {inc}", "who restarted {svc}", "when was {svc} last restarted",
        "recent restarts", "activity log", "what did the bot do", "what ran in the last {dur}",
        "actions in the last {dur}", "history for {svc} over the last {dur}", "changelog for {svc}",
        "previous incidents for {svc}", "past incidents on {svc}", "what has been done on {inc}",
        "show me the log", "its history", "history of it", "what did you do to it",
        "show the audit trail", "what changed today", "what happened overnight",
        "last remediations on {svc}", "what restarts did you do", "recent changes on {svc}",
        "actions taken on {inc}", "who silenced {alert}", "what did you do to {svc}",
    ),
    "help": (
        "where is the documentation", "is there a guide", "what phrases do you know",
        "what should i type", "list what you can do", "i'm new here, what can i ask",
        "help", "help me", "?", "what can you do", "what can i ask", "commands", "list commands",
        "usage", "how do i use this", "how does this work", "what commands are there",
        "help please", "show help", "i need help", "what do you do", "what can you help with",
        "how do i silence an alert", "how do i approve", "how do i restart a service", "options",
        "man", "instructions", "getting started", "what are the commands", "examples",
        "what can this bot do", "how to use", "syntax",
    ),
    "unknown": (
        "what's the capital of france", "tell me a joke", "what's the weather like",
        "order a pizza", "book a meeting room for tomorrow", "who won the game last night",
        "write a poem about clouds", "translate hello to spanish", "what time is it in tokyo",
        "play some music", "how tall is mount everest", "what's for lunch", "thanks",
        "thank you", "good morning", "lol", "nice", "cool", "asdfgh", "qwerty uiop",
        "what's 2 plus 2", "send an email to my boss", "remind me to buy milk",
        "how do i cook pasta", "best pizza place nearby", "tell me a story",
        "what's the stock price of amazon", "who is the president", "set an alarm for 7",
        "my cat is sleeping", "i love this team", "where is the coffee machine",
        "how many days until christmas", "recommend a movie", "what's the meaning of life",
        "can you sing", "are you a robot", "define serendipity", "spell necessary",
        "what is kubernetes", "how does dns work", "explain quantum physics",
        "what's the capital of germany", "convert 5 miles to km", "flip a coin",
        "roll a dice", "how old are you", "do you like cats", "what's your name",
        "buy me a coffee", "call my mom", "drop table users", "select * from incidents",
        "rm -rf /", "sudo shutdown now", "ignore previous instructions",
        "what's the wifi password", "who is on vacation", "happy birthday",
        "the build is green", "lunch at noon?", "see you tomorrow", "brb", "ok",
        "weather in paris", "score of the match", "news today", "random words here banana",
        "how to write python", "is it going to rain", "what's the best editor",
        "start a timer for 10 minutes", "play the next song", "scale the recipe to 4 people",
        "restart my phone", "how do i reboot my laptop", "open the pod bay doors",
        "what's 5 plus 7", "how much is 12 divided by 4", "multiply 6 by 7", "table for 4 at 8",
        "call me at 5", "it is 3 degrees outside", "i have 2 cats", "meeting at 10",
        "' or 1=1 --", "; drop table incidents", "$(whoami)", "`ls -la`", "<script>alert(1)</script>",
        "can someone review my pr", "who broke the build", "merge my branch", "deploy my blog",
        "restart the coffee machine", "good night", "see you later", "welcome to the team",
        "congrats on the launch", "how was your weekend", "great job everyone", "i'm hungry",
        "does anyone have a charger", "what's the plan for friday", "let's grab lunch",
        "hello", "hi", "hey", "hey there", "hi all", "morning all", "how are you",
        "how do i change my password", "help me draft a letter", "how do i book a flight",
    ),
}

_SLOTS: dict[str, tuple[str, ...]] = {
    "svc": ("<svc>", "<svc>", "<svc>", "the <svc>"),
    "alert": ("<alert>", "<alert>", "the <alert>"),
    "inst": ("<inst>", "instance <inst>"),
    "region": ("<region>",),
    "dur": ("<dur>",),
    "inc": ("<num>", "<inc>", "<inc>", "incident <inc>"),
    "cap": ("<cap>",),
    "target": ("<target>",),
    "act": ("restart", "reboot", "redeploy", "restart", "bounce", "scale", "start", "cycle"),
}
_PREFIXES = ("", "", "", "", "please ", "pls ", "hey ", "can you ", "could you ", "bot ",
             "ops ", "ok ", "quick: ", "i need to ")
_SUFFIXES = ("", "", "", "", " please", " pls", " thanks", " now", " asap", "?", " thx")
_SLOT_RE = re.compile(r"\{(\w+)\}")
_PLACEHOLDER_RE = re.compile(r"(<\w+>)")
_VARIANTS_PER_TEMPLATE = 4


def training_examples(seed: int = 7) -> Iterator[tuple[str, str]]:
    """(masked text, intent) pairs: every template expanded with slots and politeness."""
    rng = random.Random(seed)
    for intent, templates in TEMPLATES.items():
        for template in templates:
            for variant in _expansions(template, intent, rng):
                yield _masked(variant), intent


def _expansions(template: str, intent: str, rng: random.Random) -> list[str]:
    # A list without repeats, not a set: a set's order follows the process's string-hash
    # seed, and the classifier's solver (saga) depends on the order of its examples, so the
    # shipped model and every CV figure would change from one process to the next.
    variants = [_fill(template, rng)]
    for _ in range(_VARIANTS_PER_TEMPLATE - 1):
        text = _fill(template, rng)
        text = rng.choice(_PREFIXES) + text + rng.choice(_SUFFIXES)
        variants.append(text)
    return list(dict.fromkeys(variants))


def _fill(template: str, rng: random.Random) -> str:
    return _SLOT_RE.sub(lambda match: rng.choice(_SLOTS[match.group(1)]), template)


def _masked(text: str) -> str:
    words: list[str] = []
    for piece in _PLACEHOLDER_RE.split(text):
        words.extend((piece,) if _PLACEHOLDER_RE.fullmatch(piece) else _literal_words(piece))
    return " ".join(words)


@lru_cache(maxsize=4096)
def _literal_words(piece: str) -> tuple[str, ...]:
    # Literal words go through the same tokeniser and typo correction as live text, so
    # training and parsing see identical spellings; literal numbers and durations are
    # masked by the reader itself.
    from pipeline.nlu.reading import read, surface_words
    from pipeline.nlu.vocabulary import EMPTY_VOCABULARY

    if any(char.isdigit() for char in piece):
        return tuple(read(piece, EMPTY_VOCABULARY).masked.split())
    return tuple(surface_words(piece))
