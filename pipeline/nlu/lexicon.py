"""Domain words the recogniser knows, and the ordinary English it must never 'correct'."""

from __future__ import annotations

from pipeline.nlu.fuzzy import closest

# The five remediation actions and the words people use for them.
ACTION_WORDS: dict[str, str] = {
    "restart": "restart",
    "restarts": "restart",
    "restarting": "restart",
    "restarted": "restart",
    "bounce": "restart",
    "cycle": "restart",
    "recycle": "restart",
    "kick": "restart",
    "reboot": "reboot",
    "reboots": "reboot",
    "rebooting": "reboot",
    "power-cycle": "reboot",
    "powercycle": "reboot",
    "scale": "scale",
    "scaling": "scale",
    "resize": "scale",
    "redeploy": "redeploy",
    "redeploying": "redeploy",
    "re-deploy": "redeploy",
    "rollout": "redeploy",
    "roll": "redeploy",
    "start": "start",
    "starting": "start",
    "boot": "start",
    "power-on": "start",
    "rebooted": "reboot",
    "redeployed": "redeploy",
    "scaled": "scale",
    "scale-up": "scale",
    "scale-down": "scale",
    "scale-out": "scale",
    "scaleup": "scale",
    "rollback": "redeploy",
    "roll-back": "redeploy",
    "rolled": "redeploy",
    "revert": "redeploy",
    "reverted": "redeploy",
}

# Words that carry an intent; a token a slip away from one of these is read as it.
KEYWORDS: frozenset[str] = frozenset(
    {
        "restart", "reboot", "redeploy", "scale", "start",
        "approve", "approved", "approval", "deny", "denied", "reject", "rejected", "decline",
        "acknowledge", "acknowledged", "ack", "silence", "silenced", "snooze", "suppress",
        "unsilence", "unmute", "unsnooze", "mute", "escalate", "escalation", "incident",
        "incidents", "status", "explain", "explanation", "history", "remediate",
        "remediation", "details", "describe", "health", "healthy", "firing", "alerts",
        "alert", "summary", "overview", "proceed", "confirm", "cancel", "abort", "reason",
        "actions", "activity", "audit", "commands", "outstanding", "active", "recent",
        "replicas", "instances", "acknowledging", "silencing", "escalating", "restarting",
        "rebooting", "redeploying", "scaling", "approving", "denying", "explaining",
        "happening", "problems", "issues", "broken", "degraded", "capacity", "deploy",
    }
)

# Spellings too short for edit distance but common enough to deserve a fix.
KNOWN_SLIPS: dict[str, str] = {
    "stauts": "status", "satus": "status", "statsu": "status", "stats": "status",
    "sttaus": "status", "staus": "status", "halp": "help", "hlep": "help", "hepl": "help",
    "dney": "deny", "deyn": "deny", "mtue": "mute", "akc": "ack", "cak": "ack",
    "resatrt": "restart", "rstart": "restart", "rstrt": "restart", "rst": "restart", "rebot": "reboot", "strat": "start",
    "incdient": "incident", "incdent": "incident", "incidnet": "incident",
    "scael": "scale", "sacle": "scale", "shwo": "show", "hsow": "show", "lsit": "list",
    "wyh": "why", "whys": "why", "y": "why",
}

# Ordinary English (and chat) words: never corrected and never read as a service typo.
_COMMON_WORDS_TEXT = """
    a about above after again against all almost also always am an and any anyone anything
    are area around as ask asked at away back bad be because been before being below best
    better between big bit both bring but by call called came can cannot case cause change
    check clear close come could couple current currently day days did different do does
    doing done dont down during each early either else end enough even ever every everyone
    everything fact far fast few find fine first fix for found from full gave get gets getting
    give given go goes going gone good got great had half happen happened has have having he
    hello help her here hers hey hi him his hold home hour hours how however i if in into is
    isn it its itself just keep kind know last late later least leave left less let like
    likely little long look looking looks lot made make making many may maybe me mean might
    mind mine minute minutes month more morning most much must my myself need needs never
    new next nice night no none nor not nothing now of off often oh ok okay old on once one
    only open or order ordered orders other our out over own part past people place please
    point pretty put quick quickly quite rather real really reason right run running same
    say see seem seems seen set several shall she should show side since small so some
    someone something soon sorry still stop such sure take taken tell than thank thanks that
    the their them then there these they thing things think this those though thought three
    through time to today together told tomorrow too took top toward try turn two under
    until up upon us use used very want wanted was way we week well went were what whats
    when where whether which while who whole why will with within without work working
    world would yeah year yes yet you your yours yesterday again team page day weather
    capital france joke song movie lunch dinner coffee pizza meeting room book write poem
    translate email birthday music play recipe football game score stock price news
    cat dog funny love hate thank weekend holiday vacation train flight hotel taxi car
    color colour number numbers name names word words text message send sent server
    servers service services thing system systems machine machines box boxes node nodes
    host hosts cluster instance pod pods app apps fire fires burning wrong ago minute
    latest last first second seconds stale slow state stats store start starts
    """
COMMON_WORDS: frozenset[str] = frozenset(_COMMON_WORDS_TEXT.split())

def correct_word(token: str) -> str:
    """The domain keyword `token` is a slip of, or `token` itself."""
    if token in KEYWORDS or token in ACTION_WORDS or token in COMMON_WORDS:
        return token
    slip = KNOWN_SLIPS.get(token)
    if slip is not None:
        return slip
    if len(token) < 5:
        return token
    return closest(token, _KEYWORD_TARGETS) or token


_KEYWORD_TARGETS: dict[str, str] = {word: word for word in KEYWORDS | set(ACTION_WORDS)}
