"""What people write to opt out, per language: the data the opt-out reader compiles. Pure data.

Every string is folded by the reader before use (lower case, accents and widths removed, so
"désabonner" and "desabonner" are the same), so write words as people spell them. Patterns
(`requests`, `asks`, `dismissals`) are regular expressions over the folded message, whose words
are separated by one space and whose sentences by " | "; a space in a pattern also crosses a
sentence break ("hören Sie auf, mir ... zu schreiben"). In space-separated languages a pattern
matches whole words; in Japanese and Chinese (`cjk`) anywhere.

- opt_out: keywords that opt out when they are the whole message (with politeness, a number, a
  name): the bare keywords and those regulators or carriers require.
- requests: phrasings that ask to stop wherever they stand, unless negated just before
  ("don't stop sending me deals").
- asks: a question about how to opt out ("how do I unsubscribe?"): probably wants out, not sure.
- dismissals: probably wants out, not certainly ("leave me alone", "not interested"); they also
  confirm a bare keyword said beside them ("Not interested. STOP").
- polite: words that may stand around a keyword without changing it ("stop please").
- negations: words that, just before a request, turn it around.
- strong: long words that ask to opt out by themselves; typos of them are read too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str
    opt_out: tuple[str, ...]
    requests: tuple[str, ...]
    asks: tuple[str, ...] = ()
    dismissals: tuple[str, ...] = ()
    polite: tuple[str, ...] = ()
    negations: tuple[str, ...] = ()
    strong: tuple[str, ...] = ()
    opt_in: tuple[str, ...] = ()
    help: tuple[str, ...] = ()
    cjk: bool = False


# Messaging nouns and verbs, shared by the English patterns.
_EN_VERB = (
    r"(sending|texting|txting|messaging|msging|contacting|spamming|bothering|harassing|emailing"
    r"|calling|sms\w*)"
)
_EN_NOUN = (
    r"(texts|txts|messages|msgs|sms|spam|promotions|promos|ads|alerts|notifications|marketing"
    r"|offers)"
)
_EN_LIST = (
    r"( (mailing|text|texting|sms|contact|marketing|distribution|messaging|call|subscriber"
    r"|subscription|calling|email|promo\w*))? (list|lists|database|db|system|records|contacts)"
)

# What may follow a verb of sending or receiving for it to be about messages to this person (the
# end of the sentence, "me", "more", a message noun), so that "stop sending the parcel to my old
# address" and its equivalents do not read as opt-outs.
_ES_OBJ = (
    r"(?= \||$| (me|nos|mas|nada|mensajes?|sms|publicidad|promociones|ofertas|por|porfa|ya"
    r"|gracias|con|a este numero|aqui|estos|esos|sus|tus|ningun\w*|notificaciones)\b)"
)
_FR_NOUN = (
    r"(sms|messages?|textos?|pubs?|publicites?|promotions?|offres|notifications|mails|relances)"
)
_FR_OBJ = (
    rf"(?= \||$| (svp|stp|merci|plus|rien|{_FR_NOUN}|(des|de|vos|les|ces|aucun|aucune|d)"
    rf" {_FR_NOUN})\b)"
)
_IT_OBJ = (
    r"(?= \||$| (piu|messaggi|sms|comunicazioni|pubblicita|offerte|promozioni|nulla|niente"
    r"|questi|queste|i vostri|vostri|altri|grazie|per favore|subito|a questo numero)\b)"
)
_PT_OBJ = (
    r"(?= \||$| (mensagens?|sms|promocoes|propagandas?|nada|mais|essas|estas|suas|por favor"
    r"|obrigad[oa]|pra mim|para mim|pro meu numero|para este numero)\b)"
)
_PL_OBJ = (
    r"(?= \||$| (wiadomosci|sms\w*|do mnie|mi|reklam\w*|ofert\w*|juz|prosze|wiecej|tych"
    r"|zadnych)\b)"
)
_RU_OBJ = (
    r"(?= \||$| (мне|смс|сообщения|сообщении|рекламу|спам|эти|ваши|больше|пожалуиста|ничего"
    r"|на этот номер)\b)"
)
_SV_OBJ = (
    r"(?= \||$| (till mig|mig|sms\w*|meddelanden|reklam|erbjudanden|fler|mer|nagot|nu|tack)\b)"
)
_DA_OBJ = r"(?= \||$| (til mig|mig|beskeder|sms\w*|reklame|flere|mere|nu|tak)\b)"
_NO_OBJ = r"(?= \||$| (til meg|meg|meldinger|sms\w*|reklame|flere|mer|na|takk)\b)"
_FI_OBJ = r"(?= \||$| (minulle|viesteja|tekstiviesteja|mainoksia|enaa|mitaan|tanne)\b)"
_RO_OBJ = (
    r"(?= \||$| (mesaje|sms\w*|reclame|nimic|oferte|la acest numar|pe acest numar|va rog|mersi"
    r"|multumesc)\b)"
)
_CS_OBJ = r"(?= \||$| (mi|me|uz|zpravy|sms\w*|reklamy|nabidky|zadne|dalsi|prosim)\b)"
_ID_OBJ = r"(?= \||$| (sms|pesan|promo|iklan|ke saya|ke nomor|lagi|saya|ya|dong|min)\b)"
_AR_OBJ = r"(?= \||$| (لي|رسائل|الرسائل|اي|شيء|رساله|مره|مرة|بعد|ابدا)\b)"

ENGLISH = Language(
    "en",
    opt_out=(
        "stop",
        "stopall",
        "stop all",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "revoke",
        "optout",
        "opt out",
        "remove",
        "unsub",
        "remove me",
        "stop it",
        "no more",
    ),
    requests=(
        rf"(stop|quit|cease|halt) {_EN_VERB}(?= (me|us|this|these|those|them|any|messages|texts"
        r"|my|to|promo\w*|ads|marketing|please|pls|now|immediately|already|right)\b| \||$)",
        rf"(stop|quit|cease|enough|no more)( with| sending| all)?( the| these| those| your| this"
        rf"| ur| all| any)? {_EN_NOUN}\b(?! (have|has|came|arrived|from my))",
        r"(do not|don t|dont|never|pls don t|please don t) (ever )?(text|txt|message|msg|contact"
        r"|sms|send|email|call|spam|bother|reach) (me|us|this number|anything|to this number)",
        r"(remove|delete|erase|drop|lose|scrub|wipe|forget) (my (phone |cell |mobile )?number"
        r"|this number|the number|my contact|my details|my info|my data)(?= \||$| (please|pls"
        r"|plz|now|thanks|thank|asap|immediately|already|from (your|the|this|ur|all|these|those"
        r"|that)( \w+)?( \w+)? (list|lists|database|db|system|records|contacts|files?)\b))",
        r"take (me|us|my number|the number|this number|it) (off|out)\b",
        rf"(remove|delete|take|drop|get|scratch|cross) (me|us|my number|this number|the number)"
        rf" (off|from|out of)( of)?( your| the| this| ur| that| all| these| those)?{_EN_LIST}\b",
        r"(remove|delete) (me|us)(?= \||$| (please|pls|plz|now|thanks|thank|asap|immediately))",
        r"(unsubscribe|unsub)(?! (my|the|this|that)( \w+)? (email|e mail|mail|address|account"
        r"|card))|unsubscribing|optout",
        r"opt (me |us )?out(?= \||$| (please|pls|now|thanks|thank|of (this|these|the|your|all|any)"
        r"?( \w+)? ?(texts?|messages?|sms|list|alerts|notifications|marketing|promo\w*|mailing)))",
        r"want out(?= \||$| (of (this|your|the|these) (list|texts|messages|sms|mailing|alerts)"
        r"|please|now)\b)",
        rf"(i|we) (do not|don t|dont|no longer|never) (want|wish|need|like)( to)?( (receive|get"
        rf"|be getting|have))?(( any| these| those| your| this| more| the| such| of))* {_EN_NOUN}",
        r"no longer (want|wish|need) (to )?(receive|get|these|them|this|your)",
        r"rather not (get|receive|have) (these|this|them|any|your|messages|texts)",
        r"wrong number|not my (phone|number|cell|mobile)",
        r"revoke|withdraw (my )?consent",
        rf"(cancel|end|stop) (my |the |this |these |all |your )?(text|sms|message|alert"
        rf"|notification)s?\b|subscription to (these|the|your|this) {_EN_NOUN}",
        rf"(i m|im|i am) (done|finished) with (these|this|your|the) {_EN_NOUN}",
        r"(leave|keep) me (off|out of) (your|the|this) (list|mailing)",
        r"(stop|quit) (this|these|them|that|all this)(?= \||$| (please|pls|now|immediately)\b)",
        r"already (unsubscribed|opted out|replied stop|said stop|asked you to stop)",
        r"(i|we) (said|told you|asked you|asked) (you )?(to )?stop(?= \||$| (texting|messaging"
        r"|sending|contacting|it|please|already|now)\b)",
    ),
    asks=(
        r"\b(how|where|what|is there|can i|could i|do i)\b.*\b(unsubscribe|unsub"
        r"|opt ?out(?! of (the|my|a|an|paper)\b)"
        r"|stop (these|this|them|it|getting|receiving|the (texts|messages))|get off|be removed"
        r"|remove (me|my number))",
        r"\b(how|can i|is there a way to)\b.*\b(make|get) (these|this|them|it|the (texts|messages))"
        r" (to )?stop",
    ),
    dismissals=(
        r"leave me (alone|be)\b",
        r"go away\b",
        r"not interested\b",
        r"(why|how come) (do|does|are|is) (you|u|they|this) (keep|still)\b",
        r"never (signed|sign) up\b",
        r"never asked for (this|these|them|it|any of this)\b",
        r"i (do not|don t|dont) want (this|these|them)(?= \||$)",
        r"who gave (you|u) (my|this) number",
        r"how did (you|u) get (my|this) number",
        r"why (am i|do i|are you|do you) still (getting|receiving|sending|texting)",
        r"i don t know (you|who)\b",
    ),
    polite=(
        "hi",
        "hello",
        "hey",
        "dear",
        "team",
        "sir",
        "madam",
        "good",
        "morning",
        "afternoon",
        "evening",
        "please",
        "pls",
        "plz",
        "plse",
        "thanks",
        "thank",
        "you",
        "thx",
        "ty",
        "now",
        "all",
        "it",
        "ok",
        "okay",
        "asap",
        "already",
        "immediately",
        "just",
        "sms",
        "text",
        "again",
        "u",
        "thankyou",
        "thnx",
        "cheers",
        "sorry",
        "right",
        "away",
        "and",
        "kindly",
    ),
    # Negations, and "wants": a request said of someone else ("my son wants to unsubscribe").
    negations=("don", "dont", "never", "not", "cant", "wont", "didn", "shouldn", "t", "wants"),
    strong=("unsubscribe",),
    opt_in=("start", "unstop", "yes"),
    help=("help", "info"),
)

SPANISH = Language(
    "es",
    opt_out=(
        "baja",
        "alto",
        "stop",
        "cancelar",
        "parar",
        "para",
        "basta",
        "desuscribir",
        "desuscribirme",
        "darme de baja",
        "dar de baja",
        "cancelar suscripcion",
        "desuscribete",
    ),
    requests=(
        r"(dejen|deja|deje|dejar|dejad|paren|para|pare|parar|basta|cesen) de (enviar|mandar"
        rf"|escribir|molestar|contactar|llamar|spamear)\w*{_ES_OBJ}",
        r"no (me |nos )?(envien|manden|escriban|contacten|molesten|envies|mandes|escribas"
        rf"|vuelvan a)\w*{_ES_OBJ}",
        r"(no|ya no) (quiero|deseo|necesito) (recibir )?(mas |sus |tus |estos |estas |ningun )*"
        r"(mensajes?|sms|publicidad|promociones|notificaciones|nada)\b",
        r"(no|ya no) (quiero|deseo) recibir( mas)?(?= \||$)",
        r"(dar|darme|darse|denme|dame|deme|doy|den|me doy) de baja(?= \||$| (por|porfa|ya|gracias"
        r"|de (esta|la|su|sus|tu|vuestra|los|estos) (lista|mensajes|sms|suscripcion|envios"
        r"|promociones)|de todo)\b)|ya me (di|he dado) de baja",
        r"(borr|quit|elimin|saqu|sac|remuev|retir)\w* (mi numero|de (su|la|esta|tu|vuestra)"
        r" lista)",
        r"no es mi numero|numero equivocado|se equivocaron de numero",
        r"(basta|no mas) (de )?(mensajes|sms|publicidad|spam|promociones)",
        r"desuscrib\w*|desinscrib\w*|(cancelar|anular) (la |mi )?suscripcion",
    ),
    asks=(
        r"\b(como|donde|que hago|hay manera)\b.*\b(doy de baja|dar de baja|darme de baja"
        r"|desuscrib\w*|dejar de recibir)",
    ),
    dismissals=(r"dej(en|a|e|ad)me en paz", r"no me interesa"),
    polite=(
        "hola",
        "buenas",
        "buenos",
        "dias",
        "tardes",
        "senores",
        "por",
        "favor",
        "porfa",
        "gracias",
        "ya",
        "ahora",
        "mismo",
        "todo",
        "sms",
    ),
    negations=("no", "nunca", "jamas"),
    strong=("desuscribir", "desuscribirme"),
    opt_in=("alta",),
    help=("ayuda",),
)

FRENCH = Language(
    "fr",
    opt_out=(
        "stop",
        "arret",
        "arreter",
        "arretez",
        "desabonner",
        "desinscrire",
        "desinscription",
        "desabonnement",
        "fin",
        "annuler",
        "stop sms",
        "desabonne",
    ),
    requests=(
        r"(arretez|arrete|arreter|cessez|cesser|stoppez|stop) (de m |de me |de nous |d )?"
        rf"(envoyer|ecrire|contacter|harceler|spammer|appeler|relancer)\w*{_FR_OBJ}",
        r"(arretez|arrete|stop|stoppez|plus de|assez de|fini les) (les |vos |aux |ces |de |a )?"
        r"(sms|messages|textos|pub|pubs|publicite|publicites|notifications|envois|relances)",
        rf"ne (m |me |nous )?(envoyez|ecrivez|contactez|appelez|relancez) plus{_FR_OBJ}",
        rf"ne plus (m |me |nous )?(envoyer|ecrire|contacter|recevoir){_FR_OBJ}",
        r"ne plus etre contacte",
        r"(me|m) (retirer|supprimer|enlever|effacer|rayer) (de|du|des) (votre |vos |la |cette "
        r"|ce )?(liste|listes|fichier|base)",
        rf"(je|j) (ne )?(veux|souhaite|desire|voudrais) (plus|pas)( rien)? (recevoir{_FR_OBJ}"
        rf"|etre contacte|(de vos|de ces|de) {_FR_NOUN})",
        r"desabonn\w*|desinscri\w*",
        r"(retirez|supprimez|enlevez|effacez|retire|supprime|enleve|efface|rayez)( moi)?"
        r" (mon numero|de votre liste|ce numero|de la liste)",
        r"ce n est pas mon numero|mauvais numero|erreur de numero",
    ),
    asks=(r"\b(comment|ou)\b.*\b(desabonn|desinscri|arreter (les|de recevoir))",),
    dismissals=(r"laisse[rz]? moi tranquille", r"fichez moi la paix", r"pas interesse"),
    polite=(
        "bonjour",
        "bonsoir",
        "salut",
        "madame",
        "monsieur",
        "svp",
        "stp",
        "merci",
        "s",
        "il",
        "vous",
        "plait",
        "beaucoup",
        "sms",
        "tout",
    ),
    negations=("n", "ne", "jamais"),
    strong=("desabonner", "desinscrire", "desabonnement"),
    opt_in=("reprendre",),
    help=("aide",),
)

GERMAN = Language(
    "de",
    opt_out=(
        "stop",
        "stopp",
        "ende",
        "end",
        "abmelden",
        "abbestellen",
        "austragen",
        "kundigen",
        "abmeldung",
    ),
    requests=(
        r"keine (weiteren )?(\w+ )?(sms|nachrichten|werbung|mitteilungen|mails|e mails"
        r"|newsletter|angebote)( \w+)? mehr(?= \||$| (bitte|schicken|senden|schreiben|zusenden"
        r"|danke|erhalten|bekommen|empfangen|per|an|auf|zu)\b)|keine weiteren (sms|nachrichten"
        r"|werbung)",
        r"(hor|hort|horen|hoer)\w*( sie| ihr| bitte)* auf( \w+){0,3} (zu )?(schreiben|schicken"
        r"|senden|simsen|kontaktieren|nerven)",
        r"(melden|trag\w*|nehm\w*|losch\w*|loesch\w*|entfern\w*|streich\w*) (sie )?(bitte )?"
        r"(mich|meine nummer|meine handynummer|diese nummer)",
        r"(mich|uns)( \w+){0,3} (abmelden|austragen|abbestellen)",
        r"bitte (abmelden|austragen|abbestellen)|(abmelden|austragen|abbestellen) bitte",
        r"(sms|newsletter|nachrichten|werbung|mitteilungen) (abmelden|abbestellen)",
        r"(schreib\w*|schick\w*|sende\w*|kontaktier\w*) (sie |ihr )?(mir|mich|uns) (bitte )?"
        r"(nicht|keine|nie)( mehr)?",
        r"nicht mehr (kontaktieren|schreiben|schicken|senden|anrufen|anschreiben)",
        r"nicht (meine|mein) nummer|falsche nummer",
        r"widerrufe (meine|die) (einwilligung|zustimmung)",
        r"lass\w* (das|es) mit den (sms|nachrichten)",
        r"aus (dem|der|ihrem|ihrer|eurem|eurer|diesem|dieser) (verteiler|liste|newsletter|kartei"
        r"|datenbank)( \w+)? (nehmen|austragen|entfernen|streichen|loschen)",
    ),
    asks=(r"\b(wie|wo)\b.*\b(abmelden|abbestellen|austragen|abmeldung)",),
    dismissals=(r"lass\w* mich in ruhe", r"kein interesse"),
    polite=(
        "hallo",
        "guten",
        "tag",
        "moin",
        "servus",
        "bitte",
        "danke",
        "sofort",
        "jetzt",
        "alles",
        "sms",
        "schon",
    ),
    negations=("nicht", "nie", "niemals", "kein"),
    strong=("abmelden", "abbestellen"),
    opt_in=("anmelden",),
    help=("hilfe",),
)

ITALIAN = Language(
    "it",
    opt_out=(
        "stop",
        "basta",
        "cancella",
        "cancellami",
        "disiscrivimi",
        "disiscrivi",
        "annulla",
        "disiscrizione",
    ),
    requests=(
        r"(smettete|smetti|smettila|smettetela|basta|finitela|piantatela) (di )?(mandar|inviar"
        rf"|scriver|contattar|messaggiar|disturbar)\w*{_IT_OBJ}",
        rf"non (voglio|desidero)( piu)? ricevere{_IT_OBJ}",
        r"non (voglio|desidero)( piu)? (essere contattat\w*|messaggi|sms)",
        r"non (mi |ci )?(mandate|inviate|scrivete|contattate|mandatemi|inviatemi|scrivetemi"
        r"|inviarmi|mandarmi|scrivermi|contattarmi)\w*( piu)",
        r"cancellatemi|toglietemi|rimuovetemi|eliminatemi|cancellami|toglimi|rimuovimi"
        r"|disiscriv\w*|disiscrizione",
        r"(cancellate|togliete|rimuovete|eliminate|cancella|togli|rimuovi|elimina) (il mio numero"
        r"|questo numero|dalla lista|dalla vostra lista)",
        r"(basta|niente piu|niente|no|stop)( con| coi)?( questi| queste| i| le| tutti questi)?"
        r" (messaggi|sms|pubblicita|comunicazioni)",
        r"non e il mio numero|numero sbagliato",
    ),
    asks=(r"\b(come|dove)\b.*\b(disiscriv|cancellar(mi|si)|toglier(mi|si))",),
    dismissals=(r"lascia\w* in pace", r"non (mi )?interessa"),
    polite=(
        "ciao",
        "buongiorno",
        "buonasera",
        "salve",
        "per",
        "favore",
        "grazie",
        "subito",
        "ora",
        "tutto",
        "sms",
    ),
    negations=("non", "mai"),
    strong=("disiscrivimi", "disiscrivermi", "cancellami"),
    opt_in=("iscrivimi",),
    help=("aiuto",),
)

PORTUGUESE = Language(
    "pt",
    opt_out=(
        "pare",
        "sair",
        "stop",
        "parar",
        "cancelar",
        "descadastrar",
        "remover",
        "chega",
        "descadastro",
    ),
    requests=(
        r"(parem|pare|para|parar|deixem|deixe|deixa|chega) de (me )?(mandar|enviar|escrever"
        rf"|ligar|contatar|incomodar)\w*{_PT_OBJ}",
        r"(nao|nunca mais) (me |nos )?(mandem|envie|enviem|mande|manda|escrevam|liguem"
        rf"|contatem)\w*{_PT_OBJ}",
        r"nao (quero|desejo)( mais)? (receber )?(mais )?(essas |estas |suas |as |os )?(mensagens"
        r"|sms|promocoes|propagandas|notificacoes)\b",
        r"nao (quero|desejo)( mais)? receber( mais)?(?= \||$)",
        r"(tirem|tire|remova|removam|retirem|exclua|excluam|apaguem|apague|tira)( me)? (da lista"
        r"|da sua lista|dessa lista|desta lista|meu numero|o meu numero|o numero)",
        r"(quero sair|sair) (da|dessa|desta) lista",
        r"descadastr\w*",
        r"cancelar o recebimento|chega de (mensagens|sms|promocoes)",
        r"nao e (o )?meu numero|numero errado",
    ),
    asks=(r"\b(como|onde)\b.*\b(sair|descadastr|cancelar (o )?recebimento|parar de receber)",),
    dismissals=(r"deix\w* em paz", r"nao tenho interesse"),
    polite=(
        "ola",
        "oi",
        "bom",
        "dia",
        "boa",
        "tarde",
        "por",
        "favor",
        "obrigado",
        "obrigada",
        "ja",
        "agora",
        "tudo",
        "sms",
        "pf",
    ),
    negations=("nao", "nunca"),
    strong=("descadastrar",),
    opt_in=("voltar",),
    help=("ajuda",),
)

DUTCH = Language(
    "nl",
    opt_out=("stop", "afmelden", "uitschrijven", "uit", "opzeggen", "stoppen"),
    requests=(
        r"(stop|hou op|houd op|kap) (met )?(het )?(sturen|sms\w*|berichten|appen|mailen|bellen"
        r"|versturen|spammen)",
        r"geen (\w+ )?(berichten|sms|smsjes|reclame|mails) meer",
        r"(stuur|sms|mail|app) (mij|me|ons) (geen|niet|niets)( \w+)? meer",
        r"niet meer (sturen|sms\w*|versturen|benaderen|benaderd|contacteren|bellen)",
        r"(afmeld(en|ing)|uitschrijv(en|ing))(?= \||$| (aub|graag|alsjeblieft|alstublieft|nu|sms"
        r"|berichten|voor (de|deze|alle|jullie) (nieuwsbrief|sms|berichten|mailings?))\b)",
        r"schrijf (me|mij) uit|meld (me|mij) af",
        r"(haal|verwijder|schrap) (mij|me|mijn nummer|dit nummer)",
        r"(mij|me|mijn nummer|dit nummer) (verwijderen|schrappen|uitschrijven|afmelden)(?= \||$"
        r"| (aub|graag|alsjeblieft|alstublieft|nu|uit|van (de|deze|jullie) (lijst|nieuwsbrief)))",
        r"niet mijn nummer|verkeerde? nummer",
    ),
    asks=(r"\b(hoe|waar)\b.*\b(afmeld|uitschrijv|meld (ik )?(me|mij) af)",),
    dismissals=(r"laat (me|mij) (met rust|met vrede)", r"geen interesse"),
    polite=(
        "hoi",
        "hallo",
        "goedemorgen",
        "goedemiddag",
        "aub",
        "alsjeblieft",
        "alstublieft",
        "graag",
        "bedankt",
        "dank",
        "je",
        "nu",
        "sms",
    ),
    negations=("niet", "nooit", "geen"),
    strong=("afmelden", "uitschrijven"),
    opt_in=("aanmelden",),
    help=("hulp",),
)

POLISH = Language(
    "pl",
    opt_out=(
        "stop",
        "zakoncz",
        "rezygnacja",
        "koniec",
        "wypisz",
        "anuluj",
        "rezygnuje",
        "wypisz sie",
    ),
    requests=(
        rf"przesta(c|n\w*) (mi |do mnie )?(wysyl|pis|przysyl|dzwon|spam)\w*{_PL_OBJ}",
        rf"nie (chce|chcemy|zycze sobie)( juz)?( wiecej)? (otrzymywac|dostawac){_PL_OBJ}",
        r"nie (chce|chcemy|zycze sobie)( juz)?( wiecej)? (sms|wiadomosci|smsow)",
        r"nie (wysylajcie|piszcie|wysylaj|pisz|przysylajcie|dzwoncie)( do mnie| mi)?( juz)?"
        r" wiecej",
        r"wypis\w*|rezygn\w*",
        r"usun\w* (moj|mojego) (numer|numeru)|usun\w* mnie",
        r"to nie (jest )?moj numer|zly numer",
        r"koniec (z )?(tymi |tym )?(sms|wiadomosc)\w*",
        r"nie kontaktowac sie ze mna|nie kontaktujcie sie",
    ),
    asks=(r"\b(jak|gdzie)\b.*\b(wypis|rezygn|odsubskryb)",),
    dismissals=(r"daj(cie)? mi spokoj", r"nie jestem zainteresowan"),
    polite=(
        "czesc",
        "dzien",
        "dobry",
        "witam",
        "prosze",
        "dziekuje",
        "dzieki",
        "juz",
        "teraz",
        "sms",
        "wszystko",
    ),
    negations=("nie", "nigdy"),
    strong=("rezygnacja", "rezygnuje"),
    opt_in=("wznow",),
    help=("pomoc",),
)

TURKISH = Language(
    "tr",
    opt_out=(
        "ret",
        "iptal",
        "dur",
        "stop",
        "abonelikten cik",
        "cikis",
        "durdur",
        "iptal et",
    ),
    requests=(
        r"(gondermeyi|atmayi|yollamayi) (birakin|kesin|birak|durdurun)",
        r"(mesaj|sms|ileti|reklam)\w* (almak )?istemiyorum",
        r"(sms|mesaj)\w* (atmayin|gondermeyin|yollamayin)",
        r"(listeden|listenizden|listenden) (cikarin|cikar|silin|sil)",
        r"numarami (silin|sil|kaldirin)",
        r"abonel\w* (iptal|cik\w*)|abonelikten",
        r"benim numaram degil|yanlis numara",
        r"bana (ulasmayin|yazmayin)",
    ),
    asks=(r"\b(nasil|nereden)\b.*\b(abonelik|listeden cik)",),
    dismissals=(r"rahat birak\w*", r"ilgilenmiyorum"),
    polite=(
        "merhaba",
        "selam",
        "iyi",
        "gunler",
        "lutfen",
        "tesekkurler",
        "tesekkur",
        "ederim",
        "sms",
        "hemen",
        "artik",
    ),
    negations=("asla",),
    strong=("abonelikten",),
    opt_in=("basla",),
    help=("yardim", "bilgi"),
)

RUSSIAN = Language(
    "ru",
    opt_out=(
        "стоп",
        "отписаться",
        "отписка",
        "отменить",
        "хватит",
        "отпишите",
    ),
    requests=(
        r"(перестан\w*|прекрат\w*|хватит|не надо)( мне| больше)* (присыл|сла|писа|отправл"
        rf"|рассыл|звони|беспоко|спам)\w*{_RU_OBJ}",
        r"(стоп|хватит|прекратите|не надо) (рассылк|смс|сообщени|спам|реклам)\w*",
        r"прекратите (рассылку|присылать|писать)",
        rf"не (присылаите|пишите|отправляите|звоните|беспокоите)( мне)?+( больше)?+{_RU_OBJ}",
        rf"(не хочу|не желаю)( больше)? получать{_RU_OBJ}",
        r"(не хочу|не желаю)( больше)? (сообщени|смс|рассылк)\w*",
        r"отпис\w*|отпиш(?!ись\b)\w*",
        r"(удалите|уберите|исключите|вычеркните) (мои номер|меня|номер)",
        r"не мои номер|ошиблись номером",
        r"отказываюсь от (рассылки|сообщении|смс)",
        r"прошу не беспокоить",
    ),
    asks=(r"\b(как|где)\b.*\b(отпис|отказат)",),
    dismissals=(r"оставьте меня в покое", r"отстаньте", r"не интересно"),
    polite=(
        "привет",
        "здравствуите",
        "добрыи",
        "день",
        "пожалуиста",
        "спасибо",
        "сеичас",
        "уже",
        "все",
        "смс",
    ),
    negations=("не", "никогда", "хочет", "хотят"),
    strong=("отписаться",),
    opt_in=("старт",),
    help=("помощь",),
)

SWEDISH = Language(
    "sv",
    opt_out=("stopp", "stop", "avsluta", "avregistrera", "avanmal", "sluta"),
    requests=(
        rf"(sluta|stoppa|upphor) (att )?(skicka|skriva|sms\w*|messa|ringa|kontakta){_SV_OBJ}",
        r"(vill inte|onskar inte) (ha|fa|bli)( \w+)?( fler| mer| flera)? (sms|meddelanden"
        r"|utskick|kontaktad|reklam)\w*",
        r"(inga|inget) (fler|mer) (sms|meddelanden|utskick|reklam)",
        r"skicka (inga|inte) (fler|mer)",
        r"(ta bort|radera|stryk) (mitt nummer|mig|numret)",
        r"avregistrer\w*|avanmal\w*|avsluta (prenumerationen|min prenumeration)",
        r"inte mitt nummer|fel nummer",
    ),
    asks=(r"\b(hur|var)\b.*\b(avregistrer|avanmal|avsluta)",),
    dismissals=(r"lamna mig ifred", r"inte intresserad"),
    polite=("hej", "hallo", "tack", "nu", "sms", "alla"),
    negations=("inte", "aldrig"),
    strong=("avregistrera",),
    opt_in=("starta",),
    help=("hjalp",),
)

DANISH = Language(
    "da",
    opt_out=("stop", "afmeld", "frameld", "slut"),
    requests=(
        rf"(stop|hold op|hor op) (med )?(at )?(sende|skrive|sms\w*|ringe|kontakte){_DA_OBJ}",
        r"(vil ikke|onsker ikke) (modtage|have|kontaktes|blive kontaktet)",
        r"send (ikke|ingen) (flere|mere)",
        r"ingen (flere|mere) (beskeder|sms|reklame)",
        r"(afmeld|frameld)\w*(?= \||$| (mig|os|venligst|tak|nu|alt|sms|beskeder|nyhedsbrev\w*)\b)",
        r"(fjern|slet) (mit nummer|mig|nummeret)",
        r"ikke mit nummer|forkert nummer",
    ),
    asks=(r"\b(hvordan|hvor)\b.*\b(afmeld|frameld)",),
    dismissals=(r"lad mig vaere i fred", r"ikke interesseret"),
    polite=("hej", "hallo", "tak", "nu", "sms"),
    negations=("ikke", "aldrig"),
    opt_in=("tilmeld",),
    help=("hjaelp",),
)

NORWEGIAN = Language(
    "no",
    opt_out=("unsub", "stopp", "stop", "avmeld", "meld av", "slutt"),
    requests=(
        r"(slutt|stopp|hold opp|hor opp) (med )?(a )?(sende|skrive|sms\w*|ringe|kontakte)"
        + _NO_OBJ,
        r"(vil ikke|onsker ikke) (ha|motta|bli kontaktet|fa)",
        r"(ikke|ingen) send (meg )?(flere|mer)",
        r"ingen (flere|mer) (meldinger|sms|reklame)",
        r"avmeld\w*(?= \||$| (meg|oss|takk|na|alt|sms|meldinger|nyhetsbrev\w*)\b)",
        r"meld\w* (meg|oss) av",
        r"(fjern|slett) (nummeret mitt|meg|mitt nummer|nummeret)",
        r"ikke mitt nummer|feil nummer",
    ),
    asks=(r"\b(hvordan|hvor)\b.*\b(avmeld|meld\w* (meg|jeg meg) av)",),
    dismissals=(r"la meg vaere i fred", r"ikke interessert"),
    polite=("hei", "hallo", "takk", "na", "sms"),
    negations=("ikke", "aldri"),
    opt_in=("meld pa",),
    help=("hjelp",),
)

FINNISH = Language(
    "fi",
    opt_out=("stop", "lopeta", "peruuta", "poistu", "peru tilaus", "lopetus"),
    requests=(
        r"lopettakaa (viestien|viestit|lahettaminen|lahettamasta|kirjoittaminen"
        r"|kirjoittamasta|tekstiviestien)|lopeta (viestit|viestien|lahettaminen|tekstiviestit)",
        r"en halua (enaa )?(viesteja|tekstiviesteja|mainoksia|etta minuun otetaan yhteytta)",
        rf"(alkaa|ala) (enaa )?(lahettako|laheta|viestitelko|viestittele|soittako){_FI_OBJ}",
        r"(poistakaa|poista) (minut|numeroni)",
        r"ei enaa viesteja",
        r"(peru|perua|peruuta|perun) (tilaus|tilauksen)",
        r"ei ole minun numeroni|vaara numero",
    ),
    asks=(r"\b(miten|kuinka|mista)\b.*\b(peru|poistu|lopeta)",),
    dismissals=(r"jattakaa minut rauhaan", r"ei kiinnosta"),
    polite=("hei", "moi", "terve", "kiitos", "nyt", "heti", "sms"),
    negations=("ala", "alkaa", "en", "ei"),
    opt_in=("aloita",),
    help=("apua",),
)

ROMANIAN = Language(
    "ro",
    opt_out=(
        "stop",
        "dezabonare",
        "dezaboneaza ma",
        "dezabonez",
        "anulare",
        "renunt",
        "dezabonati ma",
    ),
    requests=(
        rf"nu( \w+)? mai (trimite\w*|scrie\w*|suna\w*|contacta\w*){_RO_OBJ}",
        rf"nu (mai )?(vreau|doresc) (sa )?(mai )?(primesc|primi){_RO_OBJ}",
        r"nu (mai )?(vreau|doresc) (sa )?(mai )?(fiu contactat|mesaje)",
        r"(stergeti|sterge|scoateti|scoate|eliminati)( ma| mi)? (numarul|de pe lista|din lista)",
        r"dezabon\w*",
        r"(opriti|opreste) (mesajele|trimiterea|sms\w*|reclamele)",
        rf"incetati sa( mi)?( mai)? (trimite|scrie)\w*{_RO_OBJ}",
        r"nu este numarul meu|numar gresit",
    ),
    asks=(r"\b(cum|unde)\b.*\b(dezabon|renunt)",),
    dismissals=(r"lasati ma in pace", r"nu ma intereseaza"),
    polite=("buna", "salut", "ziua", "va", "rog", "multumesc", "mersi", "acum", "sms"),
    negations=("nu", "niciodata"),
    strong=("dezabonare", "dezabonez"),
    opt_in=("abonare",),
    help=("ajutor",),
)

CZECH = Language(
    "cs",
    opt_out=(
        "stop",
        "odhlasit",
        "odhlasit se",
        "konec",
        "prestat",
        "zrusit",
        "zastavit vse",
        "zastavit",
        "odhlaste me",
        "odhlaseni",
    ),
    requests=(
        rf"prestan\w*( mi| me)? (posilat|psat|volat|kontaktovat|obtezovat){_CS_OBJ}",
        rf"nechci( uz)? dostavat{_CS_OBJ}|nechci( uz)? (dalsi|zadne) (zpravy|sms)|nechci( uz)? sms",
        rf"(neposilejte|nepiste|nekontaktujte){_CS_OBJ}",
        r"odhlas\w*(?= \||$| (me|mne|se|prosim|z (odberu|zprav|sms|seznamu))\b)",
        r"(smazte|vymazte|vyradte|odstrante) (me|moje cislo|mne)",
        r"zadne dalsi zpravy|nepreji si byt (dale )?kontaktovan",
        r"neni moje cislo|spatne cislo",
    ),
    asks=(r"\b(jak|kde)\b.*\b(odhlas)",),
    dismissals=(r"nechte me na pokoji", r"nemam zajem"),
    polite=("ahoj", "dobry", "den", "prosim", "dekuji", "diky", "ted", "sms", "vse"),
    negations=("ne", "nikdy"),
    strong=("odhlasit",),
    opt_in=("prihlasit",),
    help=("pomoc",),
)

JAPANESE = Language(
    "ja",
    opt_out=(
        "配信停止",
        "停止",
        "ストップ",
        "解除",
        "配信解除",
        "登録解除",
        "退会",
        "配信停止希望",
    ),
    requests=(
        r"配信(を)?(停止|止め|解除|中止|不要|いらない)",
        r"(^|(?<=\|\x20)|もう|今後|二度と|これ以上|メッセージを|メールを|smsを|私に|ので|から)"
        r"(送ら|送信し|送ってこ|メールし|連絡し)ないで",
        r"(リスト|名簿)から(削除|外し|消し)",
        r"(番号|電話番号)を?(削除|消し)",
        r"(メッセージ|メール|sms|ショートメール)(の配信)?(を|は)?(止めて|停止|送らないで|いらない|不要)",
        r"私の番号ではありません|番号違い",
        r"(もう|今後)(いらない|いりません|不要)",
        r"(sms|メッセージ|メール)(は|を)?(もう|今後)?(いりません|いらない|不要)",
    ),
    asks=(r"(どう|どうやって|方法|どこ).*(停止|解除|退会)|(停止|解除|退会).*(どう|方法|どこ)",),
    dismissals=(r"ほっといて|放っておいて|興味(が)?ない",),
    polite=("ください", "してください", "して", "お願いします", "をお願いします", "で", "です"),
    opt_in=("配信再開",),
    help=("ヘルプ",),
    cjk=True,
)

CHINESE = Language(
    "zh",
    opt_out=(
        "td",
        "退订",
        "退订短信",
        "取消订阅",
        "停止",
        "退訂",
        "停止发送",
        "停止發送",
        "回复td退订",
    ),
    requests=(
        r"(不要|别|別|请勿|請勿|不用)(再)?(给我|給我)?((发|發)(?!货|貨|票)|传|傳|打扰|打擾|联系|聯系|聯繫)",
        r"不(想|要|需要)(再)?(收到|接收|收|这些|這些)",
        r"(删除|刪除)(我的)?(号码|號碼)|(号码|號碼).*(删除|刪除)",
        r"不是我的(号码|號碼)",
        r"退订|退訂|取消订阅|取消訂閱",
        r"停止(发送|發送|推送)",
    ),
    asks=(
        r"(怎么|怎樣|怎样|如何|哪里|哪裡).*(退订|退訂|取消订阅)|(退订|退訂).*(怎么|如何|哪里|哪裡)",
    ),
    dismissals=(r"别烦我|別煩我|不感兴趣",),
    polite=("请", "請", "谢谢", "謝謝", "了"),
    opt_in=("订阅", "訂閱"),
    help=("帮助", "幫助"),
    cjk=True,
)

ARABIC = Language(
    "ar",
    opt_out=(
        "stop",
        "ايقاف",
        "الغاء",
        "توقف",
        "الغاء الاشتراك",
        "قف",
        "وقف",
        "اوقف",
        "الغاء الإشتراك",
    ),
    requests=(
        r"(التوقف|توقف|توقفوا|توقفي|اوقفوا|كفوا|كف) عن (ارسال|مراسلت|الارسال|مراسلة|ازعاج)\w*",
        rf"لا (ترسلوا|ترسل|ترسلي|تراسلوني|تراسلني|تتصلوا|تزعجوني){_AR_OBJ}",
        r"لا (اريد|ارغب)( في)?( \w+){0,2} (رسائل|الرسائل|رساله)",
        r"(احذفوا|احذف|امسحوا|امسح|ازالة|ازيلوا|شيلوا) (رقمي|اسمي)",
        r"الغاء (الاشتراك|اشتراكي)|الغوا اشتراكي|الغي اشتراكي",
        r"كفى (رسائل|ارسال)",
        r"ليس رقمي|رقم خطا",
    ),
    asks=(r"\b(كيف|اين|طريقة)\b.*\b(الاشتراك|ايقاف الرسائل)",),
    dismissals=(r"اتركوني", r"دعوني (وشاني|في حالي)", r"غير مهتم"),
    polite=(
        "مرحبا",
        "السلام",
        "عليكم",
        "اهلا",
        "من",
        "فضلك",
        "لو",
        "سمحت",
        "شكرا",
        "الرجاء",
        "رجاء",
    ),
    negations=("لا",),
    opt_in=("اشتراك",),
    help=("مساعدة",),
)

INDONESIAN = Language(
    "id",
    opt_out=(
        "stop",
        "berhenti",
        "batal",
        "cancel",
        "unreg",
        "berhenti langganan",
        "stop kirim",
        "hentikan",
        "berhenti berlangganan",
    ),
    requests=(
        r"(berhenti\w*|hentikan|stop) (kirim|mengirim|sms|pengiriman|spam|hubungi"
        rf"|menghubungi)\w*{_ID_OBJ}",
        r"(tidak|nggak|gak|ga) (mau|ingin) (menerima|terima|dapat|lagi|sms|pesan)",
        r"jangan (kirim|hubungi|sms|telepon|telpon)\w*( \w+)? (lagi|saya)",
        r"(hapus|keluarkan|coret) (nomor saya|saya|nomor ini)",
        r"berhenti (ber)?langganan|unreg",
        r"bukan nomor saya|salah nomor|salah sambung",
    ),
    asks=(r"\b(bagaimana|gimana|cara|dimana)\b.*\b(berhenti (ber)?langganan|unreg|stop)",),
    dismissals=(r"jangan ganggu", r"tidak tertarik"),
    polite=(
        "halo",
        "hai",
        "selamat",
        "pagi",
        "siang",
        "tolong",
        "mohon",
        "terima",
        "kasih",
        "makasih",
        "sekarang",
        "sms",
        "saja",
        "ya",
    ),
    negations=("jangan", "tidak", "tak", "belum"),
    strong=("berhenti", "berlangganan"),
    opt_in=("daftar",),
    help=("bantuan",),
)

LANGUAGES: tuple[Language, ...] = (
    ENGLISH,
    SPANISH,
    FRENCH,
    GERMAN,
    ITALIAN,
    PORTUGUESE,
    DUTCH,
    POLISH,
    TURKISH,
    RUSSIAN,
    SWEDISH,
    DANISH,
    NORWEGIAN,
    FINNISH,
    ROMANIAN,
    CZECH,
    JAPANESE,
    CHINESE,
    ARABIC,
    INDONESIAN,
)

# Single letters that carriers use as opt-out codes (China: T, N, R; UAE: B, N) but that also
# answer yes/no questions or surveys: read as "probably", never as certain.
LETTER_CODES = ("t", "n", "r", "b")

# Trailing mail-client signatures, dropped before reading.
SIGNATURES = r"sent from my \w+( \w+)?$|envoye de mon \w+$|von meinem \w+ gesendet$"
