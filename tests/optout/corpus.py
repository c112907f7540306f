"""The labelled opt-out corpus: tests/optout/corpus/<lang>.txt, read into rows.

Each file holds one language. A line `@ LABEL CATEGORY SOURCE` starts a block; every following
non-blank line up to the next `@` is one message, exactly as a person would send it (trailing
spaces trimmed). Lines starting with `#` are comments. SOURCE is a key of SOURCES below, where
the phrasing or keyword comes from. See README.md for the label scheme.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent / "corpus"

LABELS = ("opt_out", "opt_out_uncertain", "opt_in", "help", "none")
CATEGORIES = (
    "bare_keyword",
    "regulator_keyword",
    "polite_sentence",
    "repeated_spaced",
    "emoji",
    "typo",
    "lookalike",
    "non_latin_script",
    "negative_lookalike",
    "uncertain",
    "opt_in",
    "help",
)

SOURCES = {
    "issue-10": "issue 10 (the examples it lists by name)",
    "ctia-fcc": "CTIA Messaging Principles and Best Practices; FCC 24-18 (47 CFR 64.1200, "
    "revocation 'by any reasonable means': STOP, QUIT, END, REVOKE, OPT OUT, CANCEL, "
    "UNSUBSCRIBE), as summarised at econsent.org/posts/tcpa-10-business-day-opt-out-rule and "
    "william-dudley.com/2025/04/03/new-tcpa-rules-navigating-opt-out-changes-in-messaging",
    "aws-required": "AWS End User Messaging SMS, required opt-out keywords (ARRET, CANCEL, END, "
    "OPT-OUT, OPTOUT, QUIT, REMOVE, STOP, TD, UNSUBSCRIBE): "
    "docs.aws.amazon.com/sms-voice/latest/userguide/keywords-required.html",
    "cnil-stop": "France: CNIL / Code de la consommation L.121-34, 'STOP au 36xxx' on promotional "
    "SMS: sweego.io/channel/sms/transactional-sms-in-france-should-i-put-a-stop-to-it, "
    "support.callr.com (SMS traffic types and legal framework, France)",
    "sentdm-es": "Spain: STOP/ALTO/BAJA/AYUDA (sent.dm Spain SMS guide, "
    "sent.dm/resources/spain-sms-guide)",
    "twilio-es": "US Spanish-language short codes must answer ALTO and AYUDA (Twilio help: "
    "requirements for a Spanish-language short code)",
    "sentdm-de": "Germany: STOP, STOPP, END, ENDE (sent.dm Germany SMS guide, "
    "sent.dm/resources/de_sms_guidance)",
    "sentdm-it": "Italy: STOP in the recipient's language (Twilio Italy short code best practices; "
    "Salesforce messaging regulations by country)",
    "sentdm-br": "Brazil: PARE, SAIR, AJUDA (sent.dm Brazil SMS guide, "
    "sent.dm/resources/brazil-sms-guide)",
    "payinfo-nl": "Netherlands: 'STOP' to unsubscribe in every SMS (Telecommunicatiewet 11.7; "
    "Gedragscode SMS-dienstverlening, payinfo.nl; ffcheck.nl)",
    "sentdm-pl": "Poland: STOP, ZAKONCZ, REZYGNACJA, POMOC (sent.dm Poland SMS guide, "
    "sent.dm/resources/poland-sms-guide)",
    "iys-ret": "Turkey: IYS (Ileti Yonetim Sistemi) 'ret hakki', the right to refuse commercial "
    "messages (Ticari Iletisim ve Ticari Elektronik Iletiler Hakkinda Yonetmelik, 2020); "
    "the RET reply keyword itself is real-world usage, not verified in a published list",
    "sentdm-tr": "Turkey: IPTAL, DUR, YARDIM (sent.dm Turkey SMS guide, "
    "sent.dm/resources/tr-sms-guidance)",
    "sentdm-ru": "Russia: STOP/UNSUBSCRIBE in Russian (sent.dm Russia SMS guide, "
    "sent.dm/resources/ru-sms-guidance); the Cyrillic words are the team's translation",
    "morgan-se": "Sweden: STOPP in capitals for subscription services (MORGAN code of conduct, as "
    "summarised at docs.messagecloud.com/article/201-campaign-guidance-sweden)",
    "inmobile-dk": "Denmark: STOP reply required by markedsforingsloven "
    "(inmobile.dk/guides/sms-workflows/afmelding-via-sms)",
    "brevo-no": "Norway: UNSUB instead of STOP; STOP/STOPP handled by number partners "
    "(help.brevo.com SMS opt-out keywords; developer.enablex.io Norway)",
    "own-fi": "Finland: STOP (the team's reading of common Nordic practice; no Finnish list found)",
    "sentdm-ro": "Romania: STOP, DEZABONARE, AJUTOR (sent.dm Romania SMS guide, "
    "sent.dm/resources/romania-sms-guide)",
    "etechblog-cz": "Czechia: STOP, ODHLASIT, KONEC, PRESTAT, ZRUSIT, ZASTAVIT VSE "
    "(etechblog.cz/jak-se-odhlasit-z-automatickych-textovych-zprav)",
    "own-ja": "Japanese: 配信停止 / 停止 as used in Japanese SMS and mail footers (the team's "
    "writing; Twilio Japan guidance asks for HELP/STOP in Japanese)",
    "tencent-td": "China: reply TD / T / N to unsubscribe (Tencent Cloud SMS, "
    "intl.cloud.tencent.com/document/product/382/35474; 回复TD退订 footer required by carriers)",
    "huawei-r": "China: reply R to unsubscribe (Huawei Cloud MSGSMS FAQ sms_faq_0110)",
    "own-zh": "Chinese: the team's writing after the 回复TD退订 convention",
    "zain-mobily-sa": "Saudi Arabia: Zain and Mobily take 'stop' (tobeprecisesms.com, KSA DND); "
    "sent.dm asks for STOP and its Arabic equivalent",
    "uae-tdra": "UAE: du and Etisalat opt-out by 'B' (block) to 7726, older TRA rule 'N' "
    "(help.clicksend.com UAE; easysendsms UAE regulations)",
    "own-ar": "Arabic: the team's writing (إلغاء، إيقاف، توقف as in Gulf opt-out footers)",
    "sentdm-id": "Indonesia: STOP/BERHENTI, HELP/BANTUAN, CANCEL/BATAL (sent.dm Indonesia SMS "
    "guide, sent.dm/resources/indonesia-sms-guide)",
    "own-id": "Indonesia: UNREG <service> to the shortcode, as in operator content-service "
    "messages (real-world usage, not verified in a published list)",
    "own": "the team's own writing: how people reply, with the noise they add",
}


@dataclass(frozen=True)
class Row:
    text: str
    label: str
    lang: str
    category: str
    source: str
    held_out: bool = False  # written after the reader, in holdout/ (see README)


def load(folder: Path = HERE) -> list[Row]:
    rows: list[Row] = []
    for path in sorted(folder.glob("*.txt")) + sorted(folder.glob("holdout/*.txt")):
        held_out = path.parent.name == "holdout"
        lang = path.stem
        header: tuple[str, str, str] | None = None
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            text = line.rstrip()
            if not text.strip() or text.startswith("#"):
                continue
            if text.startswith("@ "):
                label, category, source = text[2:].split()
                where = f"{path.name}:{number}"
                assert label in LABELS, f"{where}: unknown label {label}"
                assert category in CATEGORIES, f"{where}: unknown category {category}"
                assert source in SOURCES, f"{where}: unknown source {source}"
                header = (label, category, source)
                continue
            assert header is not None, f"{path.name}:{number}: a message before any @ line"
            label, category, source = header
            rows.append(Row(text, label, lang, category, f"{source}: {SOURCES[source]}", held_out))
    return rows
