"""Templates in fr, de and en for every kind (autoescaped HTML + plain text), the
fallback to English, and the MIME message with its one-click unsubscribe headers."""
import logging
import shutil
from email import policy
from email.parser import BytesParser

import pytest

from services.notifications import domain
from services.notifications.mailer import SmtpSettings, build_message
from services.notifications.templates import TEMPLATE_DIR, Renderer
from services.notifications.words import WORDS, words_for

KINDS = list(domain.ALL_KINDS) + ["digest"]
LANGUAGES = ["fr", "de", "en"]
EVIL = 'Il faut <script>alert("x")</script> & <b>planter</b> des arbres'
DATA = {
    "proposal_id": "p1", "question_id": "q1", "campaign_id": "c1", "content": EVIL,
    "original_content": "Il faut planter des arbres <i>partout</i>", "refusal_reason": "off-topic",
    "trusted_votes": 1234, "agree_rate": 0.83, "campaign_title": "Des arbres <em>partout</em>", "goal": 10000,
    "actor_name": "Camille <Exemple>", "statement": "Je m'engage <u>vraiment</u>", "milestone": 1000,
    "supporters": 1003, "stance": "commit", "status": "kept", "previous_status": "in_the_works",
    "evidence_url": "https://example.org/source", "note": "Voté <le> 3 mars", "pitch": "Un pitch <strong>fort</strong>",
    "proposal_content": EVIL, "total": 12, "questions": [{"question_id": "q1", "title": "Climat <2030>", "count": 7}],
}


def context(**extra):
    ctx = {"data": DATA, "recipient": {"display_name": "Zoé <Z>"}, "link": "https://civic.test/x",
           "unsubscribe_url": "https://civic.test/api/v1/unsubscribe/TOKEN", "preferences_url": "https://civic.test/p",
           "sections": domain.group_digest([
               {"id": 1, "kind": "proposal_accepted", "title": "Titre <1>", "body": "Corps <1>", "link": None},
               {"id": 2, "kind": "official_responded", "title": "Titre 2", "body": "Corps 2", "link": "https://l/2"},
               {"id": 3, "kind": "proposal_accepted", "title": "Titre 3", "body": "Corps 3", "link": None}]),
           "total": 3, "frequency": "daily"}
    ctx.update(extra)
    return ctx


@pytest.fixture(scope="module")
def renderer():
    return Renderer()


def test_every_kind_has_both_parts_in_every_language():
    for language in LANGUAGES:
        for kind in KINDS:
            for part in ("txt", "html"):
                assert (TEMPLATE_DIR / language / f"{kind}.{part}").is_file(), f"{language}/{kind}.{part}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_in_each_language_with_user_content_escaped(renderer, kind, language, caplog):
    with caplog.at_level(logging.WARNING):
        out = renderer.render(kind, language, context())
    assert out.language == language and not caplog.records  # no fallback
    assert out.subject and "\n" not in out.subject and len(out.subject) <= 200
    assert out.summary and out.text.strip() and out.html.strip()
    assert "<script>" not in out.html and "<b>planter" not in out.html and "Camille <Exemple>" not in out.html
    assert "<script>" not in out.html.replace("&lt;script&gt;", "")
    assert f'<html lang="{language}">' in out.html
    assert "https://civic.test/api/v1/unsubscribe/TOKEN" in out.text  # every mail can unsubscribe
    assert 'href="https://civic.test/api/v1/unsubscribe/TOKEN"' in out.html
    if kind in ("proposal_accepted", "proposal_refused", "proposal_postponed", "proposal_emerged", "campaign_started",
                "commitment_made"):
        assert "&lt;script&gt;" in out.html and EVIL in out.text  # the text part keeps the words as written


def test_french_refusal_gives_the_reason_in_plain_words(renderer):
    out = renderer.render("proposal_refused", "fr", context())
    assert out.subject == "Votre proposition n'a pas été retenue"
    assert "La raison : elle ne répond pas à la question posée." in out.text
    assert out.summary.endswith("n'a pas été retenue car elle ne répond pas à la question posée.")
    assert out.text.startswith("Bonjour Zoé <Z>,")
    assert "Bonjour Zoé &lt;Z&gt;," in out.html


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_refusal_reason_has_plain_words(renderer, language):
    reasons = ("incomprehensible", "off-topic", "partisan", "legal", "advertising", "multiple-ideas",
               "invalid-language", "rudeness", "out-of-political-scope", "already-exists", "test", "other")
    assert set(WORDS[language]["refusal_reasons"]) == set(reasons)
    for reason in reasons:
        out = renderer.render("proposal_refused", language, context(data=dict(DATA, refusal_reason=reason)))
        assert WORDS[language]["refusal_reasons"][reason] in out.text
        if "-" in reason:  # the code itself never shows
            assert reason not in out.text
    unknown = renderer.render("proposal_refused", language, context(data=dict(DATA, refusal_reason="bogus")))
    assert WORDS[language]["refusal_reasons"]["other"] in unknown.text and "bogus" not in unknown.text


def test_words_in_every_language_cover_the_english_ones():
    for language in LANGUAGES:
        for name, english in WORDS["en"].items():
            assert set(WORDS[language][name]) == set(english), f"{language}.{name}"
    italian = words_for("it")
    assert italian["statuses"]["kept"] == "kept"


def test_numbers_and_shares_follow_the_language(renderer):
    ctx = context()
    assert "1 000 soutiens" in renderer.render("campaign_milestone_reached", "fr", ctx).subject.replace("\u202f", " ")
    assert "1.000 Unterstützende" in renderer.render("campaign_milestone_reached", "de", ctx).subject
    assert "1,000 supporters" in renderer.render("campaign_milestone_reached", "en", ctx).subject
    assert "83\u00a0%" in renderer.render("proposal_emerged", "fr", ctx).text
    assert "83%" in renderer.render("proposal_emerged", "en", ctx).text


def test_german_digest_groups_items_by_kind(renderer):
    out = renderer.render("digest", "de", context())
    assert out.subject == "Ihre Tagesübersicht: 3 Neuigkeiten"
    text = out.text
    assert text.index("Ihre angenommenen Vorschläge (2)") < text.index("Antworten der Amtsträger (1)")
    assert text.index("Titre <1>") < text.index("Titre 3")
    assert "Titre &lt;1&gt;" in out.html and "Titre <1>" not in out.html
    weekly = renderer.render("digest", "de", context(frequency="weekly", total=1))
    assert weekly.subject == "Ihre Wochenübersicht: 1 Neuigkeit"


def test_official_interpellation_is_addressed_formally(renderer):
    assert renderer.render("target_interpellated", "fr", context()).text.startswith("Madame, Monsieur,")
    assert renderer.render("target_interpellated", "de", context()).text.startswith("Sehr geehrte Damen und Herren,")
    assert renderer.render("target_interpellated", "en", context()).text.startswith("Dear Camille <Exemple>,")


def test_missing_language_falls_back_to_english_with_one_warning(caplog):
    renderer = Renderer()
    with caplog.at_level(logging.WARNING, logger="services.notifications.templates"):
        first = renderer.render("proposal_refused", "it", context())
        second = renderer.render("proposal_refused", "it", context())
    assert first.language == second.language == "en"
    assert first.subject == "Your proposal was not accepted"
    assert "it does not answer the question asked" in first.text
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'it'" in warnings[0].getMessage() and "proposal_refused" in warnings[0].getMessage()
    assert renderer.render("proposal_refused", None, context()).language == "en"


def test_missing_or_broken_translation_of_one_kind_falls_back_to_english(tmp_path, caplog):
    directory = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, directory)
    (directory / "fr" / "proposal_accepted.html").unlink()  # a translation not written yet
    (directory / "de" / "proposal_refused.txt").write_text(  # a translation that breaks
        '{% extends "de/_layout.txt" %}{% block subject %}{{ data.content|int(base=None) + [] }}{% endblock %}')
    renderer = Renderer(directory)
    with caplog.at_level(logging.WARNING, logger="services.notifications.templates"):
        missing = renderer.render("proposal_accepted", "fr", context())
        broken = renderer.render("proposal_refused", "de", context())
        fine = renderer.render("proposal_postponed", "fr", context())
    assert missing.language == "en" and missing.subject == "Your proposal was accepted"
    assert broken.language == "en" and broken.subject == "Your proposal was not accepted"
    assert fine.language == "fr"
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and any("'fr'" in m for m in messages) and any("'de'" in m for m in messages)


def test_missing_data_renders_without_crashing(renderer):
    for language in LANGUAGES:
        for kind in KINDS:
            out = renderer.render(kind, language, {"data": {}, "recipient": {}})
            assert out.subject and out.text


# -- the MIME message ----------------------------------------------------------------------------------------------
def test_message_has_both_parts_and_one_click_unsubscribe(renderer):
    out = renderer.render("proposal_refused", "fr", context())
    msg = build_message(sender="Civic <no-reply@civic.test>", to="zoe@example.org", display_name="Zoé Exemple",
                        subject=out.subject, text=out.text, html=out.html, language=out.language,
                        unsubscribe_url="https://civic.test/api/v1/unsubscribe/TOKEN", kind="proposal_refused",
                        reference="delivery-42", domain="civic.test")
    parsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert parsed["Subject"] == "Votre proposition n'a pas été retenue"
    assert parsed["To"].addresses[0].addr_spec == "zoe@example.org"
    assert parsed["To"].addresses[0].display_name == "Zoé Exemple"
    assert parsed["List-Unsubscribe"] == "<https://civic.test/api/v1/unsubscribe/TOKEN>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Content-Language"] == "fr" and parsed["Auto-Submitted"] == "auto-generated"
    assert "delivery-42" in parsed["Message-ID"] and parsed["Message-ID"].endswith("@civic.test>")
    assert parsed.get_content_type() == "multipart/alternative"
    assert "elle ne répond pas à la question posée" in parsed.get_body(("plain",)).get_content()
    assert "&lt;script&gt;" in parsed.get_body(("html",)).get_content()


def test_smtp_settings_from_config_then_environment():
    env = {"SMTP_HOST": "smtp.env", "SMTP_PORT": "2525", "SMTP_TLS": "STARTTLS", "SMTP_USERNAME": "u",
           "SMTP_PASSWORD": "p", "MAIL_FROM": "Env <env@civic.test>"}
    from_env = SmtpSettings.from_config(None, env)
    assert (from_env.host, from_env.port, from_env.tls, from_env.username, from_env.password) == (
        "smtp.env", 2525, "starttls", "u", "p")
    assert from_env.envelope_from == "env@civic.test" and from_env.domain == "civic.test"
    configured = SmtpSettings.from_config({"host": "smtp.conf", "port": 465, "tls": "ssl", "username": "",
                                           "password": None, "from": "c@civic.test"}, env)
    assert (configured.host, configured.port, configured.tls, configured.username) == ("smtp.conf", 465, "ssl", "u")
    defaults = SmtpSettings.from_config({}, {})
    assert (defaults.host, defaults.port, defaults.tls, defaults.username) == ("127.0.0.1", 1025, "none", None)
    with pytest.raises(ValueError, match="tls"):
        SmtpSettings.from_config({"tls": "maybe"}, {})
