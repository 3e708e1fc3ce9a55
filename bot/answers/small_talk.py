"""Small talk, thanks and goodbyes, answered like a person would: briefly, and back to helping."""

from __future__ import annotations

import re

from bot.answers.context import Context
from bot.answers.phrases import phrase
from bot.answers.plan import plan
from bot.knowledge import Grounding
from bot.knowledge.text import STOPWORDS, tokens

_KINDS = [
    (
        "bye",
        re.compile(
            r"\b(bye|goodbye|good bye|see (you|ya)|that'?s all|that is all|have a (good|nice|great) (day|one|evening)|ciao|tsch(ü|ue)ss|au revoir|adi(ó|o)s|tot ziens|再见)\b",
            re.I,
        ),
    ),
    (
        "thanks",
        re.compile(
            r"\b(thanks?|thank you|thx|ty|cheers|appreciate it|danke|merci|gracias|obrigad[oa]|grazie|bedankt|dank je|谢谢)\b",
            re.I,
        ),
    ),
    (
        "how_are_you",
        re.compile(
            r"\b(how are (you|u)|how'?s (your|ur) day|how is your day|how (are )?things|how'?s it going|what'?s up|wie geht'?s|(ç|c)a va|qu(é|e) tal|como est(á|a)s|come stai|hoe gaat het|你好吗)\b",
            re.I,
        ),
    ),
    (
        "compliment",
        re.compile(
            r"\b((you'?re|you are|ur|u r|u are|youre)\s+(so\s+|really\s+|such\s+|the\s+|a\s+)*(great|awesome|amazing|best|legend|star|brilliant|lifesaver|life saver|genius|helpful|fantastic|wonderful|superstar|gem|rockstar|cool|nice|kind|sweet)|you rock|great job|nice job|well done|love (this|you|your \w+|it here)|good bot|nice bot|great bot|best bot)\b",
            re.I,
        ),
    ),
    (
        "greeting",
        re.compile(
            r"^\W*(hi|hey|hello|hiya|howdy|yo|good (morning|afternoon|evening)|greetings|hallo|guten (morgen|tag|abend)|bonjour|bonsoir|salut|hola|buenos d(í|i)as|buenas( tardes| noches)?|ol(á|a)|bom dia|boa tarde|ciao|buongiorno|buonasera|goedemorgen|goedemiddag|hoi|你好|您好)\b",
            re.I,
        ),
    ),
    (
        "greeting",
        re.compile(
            r"\b(can|could) (you|u) help( me)?( with something| out)?\b|\b(i have|got) a (quick )?question\b|\b(are you|anyone|is anyone|somebody) (there|here|around)\b",
            re.I,
        ),
    ),
    (
        "ack",
        re.compile(
            r"^\W*(ok(ay)?|cool|great|perfect|got it|alright|all right|sounds good|nice|awesome|understood|noted|k|kk|fine|super|good)\W*$",
            re.I,
        ),
    ),
]
# Words that go with small talk ("hi there", "thanks a lot", "have a nice day").
_FILLER = set(
    [
        "there",
        "again",
        "so",
        "much",
        "lot",
        "very",
        "really",
        "all",
        "folks",
        "guys",
        "team",
        "everyone",
        "anyone",
        "bot",
        "assistant",
        "today",
        "morning",
        "afternoon",
        "evening",
        "day",
        "nice",
        "good",
        "great",
        "one",
        "ok",
        "okay",
        "oh",
        "well",
        "just",
        "going",
        "mate",
        "friend",
        "buddy",
        "lol",
        "haha",
        "hehe",
        "xd",
        "omg",
        "wow",
    ]
)


def small_talk_kind(text: str) -> str | None:
    """Which kind of small talk a message is, or None when it also asks something ("hi, do you
    ship to Canada?" is a question that is polite about it)."""
    found = None
    rest = text
    for kind, pattern in _KINDS:
        if pattern.search(rest):
            found = found or kind
            rest = pattern.sub(" ", rest)
    if found is None:
        return None
    left = [w for w in tokens(rest) if w not in STOPWORDS and w not in _FILLER]
    return found if len(left) <= 1 else None


def answer_small_talk(ctx: Context, kind: str) -> Grounding:
    said = phrase(kind, ctx.language, shop=ctx.index.shop.profile.name)
    return plan([said], notices=[said], outcome="small_talk", direct=True, language=ctx.language)
