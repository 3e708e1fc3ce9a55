"""The assistant's fixed sentences, in every language it greets, declines and hands over in:
English, German, French, Spanish, Portuguese, Italian, Dutch and Chinese. The shop's data is
in one language (its own); a shopper writing another gets these, honestly, in theirs."""

from __future__ import annotations

LANGUAGES = ("en", "de", "fr", "es", "pt", "it", "nl", "zh")
LANGUAGE_NAMES = {
    "en": "English",
    "de": "Deutsch",
    "fr": "français",
    "es": "español",
    "pt": "português",
    "it": "italiano",
    "nl": "Nederlands",
    "zh": "中文",
}

_PHRASES: dict[str, dict[str, str]] = {
    "greeting": {
        "en": "Hello! I'm {shop}'s assistant. How can I help you today?",
        "de": "Hallo! Ich bin der Assistent von {shop}. Wie kann ich helfen?",
        "fr": "Bonjour ! Je suis l'assistant de {shop}. Comment puis-je vous aider ?",
        "es": "¡Hola! Soy el asistente de {shop}. ¿En qué puedo ayudarle?",
        "pt": "Olá! Sou o assistente da {shop}. Como posso ajudar?",
        "it": "Ciao! Sono l'assistente di {shop}. Come posso aiutarti?",
        "nl": "Hallo! Ik ben de assistent van {shop}. Waarmee kan ik helpen?",
        "zh": "您好！我是{shop}的助手。有什么可以帮您的吗？",
    },
    "how_are_you": {
        "en": "I'm doing well, thanks for asking! How can I help you today?",
        "de": "Mir geht es gut, danke der Nachfrage! Wie kann ich helfen?",
        "fr": "Très bien, merci ! Comment puis-je vous aider ?",
        "es": "¡Muy bien, gracias por preguntar! ¿En qué puedo ayudarle?",
        "pt": "Estou bem, obrigado por perguntar! Como posso ajudar?",
        "it": "Bene, grazie! Come posso aiutarti?",
        "nl": "Goed, bedankt voor het vragen! Waarmee kan ik helpen?",
        "zh": "我很好，谢谢关心！有什么可以帮您的吗？",
    },
    "thanks": {
        "en": "You're welcome! Is there anything else I can help you with?",
        "de": "Gern geschehen! Kann ich sonst noch helfen?",
        "fr": "Avec plaisir ! Puis-je vous aider pour autre chose ?",
        "es": "¡De nada! ¿Puedo ayudarle con algo más?",
        "pt": "De nada! Posso ajudar com mais alguma coisa?",
        "it": "Prego! Posso aiutarti con qualcos'altro?",
        "nl": "Graag gedaan! Kan ik nog ergens mee helpen?",
        "zh": "不客气！还有什么可以帮您的吗？",
    },
    "bye": {
        "en": "Goodbye, and thanks for visiting {shop}!",
        "de": "Auf Wiedersehen, und danke für Ihren Besuch bei {shop}!",
        "fr": "Au revoir, et merci de votre visite chez {shop} !",
        "es": "¡Adiós, y gracias por visitar {shop}!",
        "pt": "Adeus, e obrigado pela visita à {shop}!",
        "it": "Arrivederci, e grazie per aver visitato {shop}!",
        "nl": "Tot ziens, en bedankt voor uw bezoek aan {shop}!",
        "zh": "再见，感谢您光临{shop}！",
    },
    "compliment": {
        "en": "Thank you, that's kind of you! Is there anything else I can help with?",
        "de": "Danke, das ist nett! Kann ich sonst noch helfen?",
        "fr": "Merci, c'est gentil ! Puis-je vous aider pour autre chose ?",
        "es": "¡Gracias, muy amable! ¿Puedo ayudarle con algo más?",
        "pt": "Obrigado, é muito gentil! Posso ajudar com mais alguma coisa?",
        "it": "Grazie, sei gentile! Posso aiutarti con qualcos'altro?",
        "nl": "Dank u, wat aardig! Kan ik nog ergens mee helpen?",
        "zh": "谢谢您的夸奖！还有什么可以帮您的吗？",
    },
    "ack": {
        "en": "Great! Is there anything else I can help you with?",
        "de": "Prima! Kann ich sonst noch helfen?",
        "fr": "Parfait ! Puis-je vous aider pour autre chose ?",
        "es": "¡Perfecto! ¿Puedo ayudarle con algo más?",
        "pt": "Ótimo! Posso ajudar com mais alguma coisa?",
        "it": "Perfetto! Posso aiutarti con qualcos'altro?",
        "nl": "Prima! Kan ik nog ergens mee helpen?",
        "zh": "好的！还有什么可以帮您的吗？",
    },
    "english_only": {
        "en": "",
        "de": "Entschuldigung, ich kann bisher nur auf Englisch antworten.",
        "fr": "Désolé, je ne peux répondre qu'en anglais pour le moment.",
        "es": "Lo siento, por ahora solo puedo responder en inglés.",
        "pt": "Desculpe, por enquanto só consigo responder em inglês.",
        "it": "Mi dispiace, per ora posso rispondere solo in inglese.",
        "nl": "Sorry, ik kan voorlopig alleen in het Engels antwoorden.",
        "zh": "抱歉，我目前只能用英语回答。",
    },
    "reach_person_email": {
        "en": "For anything else, e-mail {email} or type /human and a person from our team will help.",
        "de": "Für Hilfe auf Deutsch schreiben Sie an {email} oder tippen Sie /human, dann meldet sich jemand aus unserem Team.",
        "fr": "Pour être aidé en français, écrivez à {email} ou tapez /human et une personne de notre équipe vous répondra.",
        "es": "Para recibir ayuda en español, escriba a {email} o escriba /human y una persona de nuestro equipo le atenderá.",
        "pt": "Para ajuda em português, escreva para {email} ou digite /human e uma pessoa da nossa equipa irá responder.",
        "it": "Per ricevere aiuto in italiano, scrivi a {email} oppure digita /human e una persona del nostro team ti risponderà.",
        "nl": "Voor hulp in het Nederlands kunt u mailen naar {email} of /human typen, dan helpt iemand van ons team u verder.",
        "zh": "如需中文帮助，请发邮件至 {email}，或输入 /human，我们的工作人员会为您解答。",
    },
    "reach_person": {
        "en": "For anything else, type /human and a person from our team will help.",
        "de": "Für Hilfe auf Deutsch tippen Sie /human, dann meldet sich jemand aus unserem Team.",
        "fr": "Pour être aidé en français, tapez /human et une personne de notre équipe vous répondra.",
        "es": "Para recibir ayuda en español, escriba /human y una persona de nuestro equipo le atenderá.",
        "pt": "Para ajuda em português, digite /human e uma pessoa da nossa equipa irá responder.",
        "it": "Per ricevere aiuto in italiano, digita /human e una persona del nostro team ti risponderà.",
        "nl": "Voor hulp in het Nederlands typt u /human, dan helpt iemand van ons team u verder.",
        "zh": "如需中文帮助，请输入 /human，我们的工作人员会为您解答。",
    },
    "found_in_english": {
        "en": "",
        "de": "Das habe ich dazu gefunden (auf Englisch):",
        "fr": "Voici ce que j'ai trouvé (en anglais) :",
        "es": "Esto es lo que he encontrado (en inglés):",
        "pt": "Isto é o que encontrei (em inglês):",
        "it": "Ecco cosa ho trovato (in inglese):",
        "nl": "Dit heb ik gevonden (in het Engels):",
        "zh": "我找到了以下信息（英文）：",
    },
    "handover": {
        "en": "I've asked a person from our team to take over this conversation.",
        "de": "Ich habe eine Person aus unserem Team gebeten, dieses Gespräch zu übernehmen.",
        "fr": "J'ai demandé à une personne de notre équipe de prendre le relais.",
        "es": "He pedido a una persona de nuestro equipo que continúe esta conversación.",
        "pt": "Pedi a uma pessoa da nossa equipa para continuar esta conversa.",
        "it": "Ho chiesto a una persona del nostro team di continuare questa conversazione.",
        "nl": "Ik heb iemand van ons team gevraagd dit gesprek over te nemen.",
        "zh": "我已请我们团队的工作人员接手这段对话。",
    },
    "handover_sorry": {
        "en": "I'm sorry about this.",
        "de": "Das tut mir leid.",
        "fr": "Je suis désolé.",
        "es": "Lo siento mucho.",
        "pt": "Lamento muito.",
        "it": "Mi dispiace molto.",
        "nl": "Het spijt me.",
        "zh": "非常抱歉。",
    },
    "handover_reply_here": {
        "en": "They will reply here.",
        "de": "Die Antwort kommt hier im Chat.",
        "fr": "La réponse arrivera ici.",
        "es": "Le responderán aquí.",
        "pt": "A resposta chegará aqui.",
        "it": "Ti risponderanno qui.",
        "nl": "U krijgt hier antwoord.",
        "zh": "他们会在这里回复您。",
    },
    "handover_email": {
        "en": "You can also e-mail {email}.",
        "de": "Sie können uns auch an {email} schreiben.",
        "fr": "Vous pouvez aussi écrire à {email}.",
        "es": "También puede escribir a {email}.",
        "pt": "Também pode escrever para {email}.",
        "it": "Puoi anche scrivere a {email}.",
        "nl": "U kunt ook mailen naar {email}.",
        "zh": "您也可以发邮件至 {email}。",
    },
}


def phrase(key: str, language: str = "en", **values: str) -> str:
    """The sentence `key` in `language` (English when it has no translation), filled in."""
    texts = _PHRASES[key]
    return (texts.get(language) or texts["en"]).format(**values)


def has(key: str, language: str) -> bool:
    return bool(_PHRASES.get(key, {}).get(language))


_STOCK = {
    "in stock": {"de": "auf Lager", "fr": "en stock", "es": "disponible", "pt": "em stock", "it": "disponibile",
                 "nl": "op voorraad", "zh": "有货"},
    "out of stock": {"de": "nicht auf Lager", "fr": "en rupture de stock", "es": "agotado", "pt": "esgotado",
                     "it": "esaurito", "nl": "niet op voorraad", "zh": "缺货"},
}  # fmt: skip


def stock_word(state: str, language: str) -> str:
    """ "in stock" / "out of stock" in `language` (as written when there is no translation)."""
    return _STOCK.get(state, {}).get(language, state)
