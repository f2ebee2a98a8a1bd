"""Refusals and assistant boilerplate, in the main languages: the phrases that, repeated over a
dataset's answers, teach a model to refuse or to talk about itself. Found in one pass of an
Aho-Corasick automaton over the answer in lower case (each phrase with straight and typographic
apostrophes).
"""

from __future__ import annotations

import functools
import re

# (kind, phrases): "refusal" declines the request; "boilerplate" is the model talking about itself
PHRASES = {
    "refusal": (
        # en
        "i'm sorry, but i can't", "i'm sorry, but i cannot", "i am sorry, but i cannot", "i am sorry, but i can't",
        "sorry, but i can't", "i cannot assist with", "i can't assist with", "i cannot help with that",
        "i can't help with that", "i'm unable to assist", "i am unable to assist", "i'm unable to help with",
        "i cannot fulfill", "i can't fulfill", "i cannot comply", "i can't comply", "i won't be able to help",
        "i'm not able to provide", "i cannot provide assistance", "i must decline",
        # de
        "es tut mir leid, aber ich kann", "ich kann ihnen dabei nicht helfen", "dabei kann ich nicht helfen",
        "ich kann dir dabei nicht helfen", "ich kann diese anfrage nicht",
        # fr
        "je suis désolé, mais je ne peux pas", "désolé, mais je ne peux pas", "je ne peux pas vous aider",
        "je ne peux pas t'aider", "je ne peux pas répondre à cette demande",
        # es
        "lo siento, pero no puedo", "no puedo ayudarte con", "no puedo ayudar con", "no puedo cumplir con",
        # it
        "mi dispiace, ma non posso", "non posso aiutarti con", "non posso aiutarla",
        # pt
        "desculpe, mas não posso", "sinto muito, mas não posso", "não posso ajudar com",
        # nl
        "het spijt me, maar ik kan", "ik kan je daar niet mee helpen",
        # ru
        "извините, но я не могу", "к сожалению, я не могу помочь", "я не могу помочь с",
        # zh, ja
        "抱歉，我无法", "对不起，我不能", "很抱歉，我不能", "申し訳ありませんが、",
    ),
    "boilerplate": (
        # en
        "as an ai language model", "as a language model", "as an ai model", "as an ai assistant",
        "as an artificial intelligence", "as an ai, i", "i am an ai language model", "i'm an ai language model",
        "as of my last knowledge update", "as of my knowledge cutoff", "my knowledge cutoff",
        "as of my last training", "my training data only goes", "i don't have access to real-time",
        "i do not have access to real-time", "i don't have personal opinions", "i do not have personal opinions",
        # de
        "als ki-sprachmodell", "als ein ki-sprachmodell", "als künstliche intelligenz habe ich",
        "als sprachmodell", "mein wissensstand",
        # fr
        "en tant que modèle de langage", "en tant qu'ia", "en tant qu'intelligence artificielle",
        # es
        "como modelo de lenguaje", "como un modelo de lenguaje", "como inteligencia artificial, no",
        # it
        "come modello linguistico", "come modello di linguaggio", "come intelligenza artificiale, non",
        # pt
        "como um modelo de linguagem", "como modelo de linguagem", "como uma ia",
        # nl
        "als taalmodel", "als ai-taalmodel",
        # ru
        "как языковая модель", "как модель искусственного интеллекта", "как ии,",
        # zh, ja
        "作为一个人工智能", "作为一个ai", "作为ai语言模型", "作为一个语言模型", "作为人工智能", "ai言語モデルとして",
    ),
}


@functools.cache
def _automaton():
    import ahocorasick_rs

    pats, kinds = [], []
    for kind, phrases in PHRASES.items():
        for p in phrases:
            for v in dict.fromkeys((p, p.replace("'", "\u2019"))):
                pats.append(v)
                kinds.append(kind)
    # a DFA: twice as fast as the default automaton on the answers, and small for these phrases
    return ahocorasick_rs.AhoCorasick(pats, implementation=ahocorasick_rs.Implementation.DFA), kinds


def prepare() -> None:
    _automaton()


def find(text: str) -> tuple[str, str, int, int] | None:
    """(kind, phrase as written, start, end) of the first refusal or boilerplate phrase in
    `text`, whatever its case."""
    ac, kinds = _automaton()
    low = text.lower()
    for i, s, e in ac.find_matches_as_indexes(low):
        if len(low) != len(text):  # a character whose lower case is longer (İ): find it in the text
            m = re.search(re.escape(low[s:e]), text, re.IGNORECASE)
            if m is None:
                return kinds[i], low[s:e], 0, len(text)
            s, e = m.span()
        return kinds[i], text[s:e], s, e
    return None
