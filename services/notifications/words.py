"""Words the templates need per language: refusal reasons in plain words, officials'
stances, commitment statuses, milestone kinds, digest section headings. A missing
language or word falls back to English (see ``templates.Renderer``)."""
from collections import ChainMap

WORDS = {
    "en": {
        "refusal_reasons": {
            "incomprehensible": "it is hard to understand",
            "off-topic": "it does not answer the question asked",
            "partisan": "it is partisan",
            "legal": "it breaks the law",
            "advertising": "it is advertising",
            "multiple-ideas": "it contains several ideas at once",
            "invalid-language": "it is not written in the language of the consultation",
            "rudeness": "it contains disrespectful language",
            "out-of-political-scope": "it is outside the scope of political action",
            "already-exists": "a similar proposal already exists",
            "test": "it was a test proposal",
            "other": "it does not follow the moderation charter",
        },
        "stances": {
            "commit": "committed to the campaign",
            "decline": "declined to commit",
            "other": "responded to the campaign",
        },
        "statuses": {
            "not_yet_rated": "not yet rated",
            "in_the_works": "in the works",
            "stalled": "stalled",
            "kept": "kept",
            "compromise": "compromise",
            "broken": "broken",
        },
        "sections": {
            "proposal_accepted": "Your proposals accepted",
            "proposal_refused": "Your proposals not accepted",
            "proposal_postponed": "Your proposals postponed",
            "proposal_emerged": "Your proposals that emerged",
            "campaign_started": "Campaigns started on your proposals",
            "commitment_made": "Commitments to your proposals",
            "campaign_milestone_reached": "Campaign milestones",
            "official_responded": "Officials' responses",
            "commitment_status_changed": "How commitments are kept",
            "moderation_summary": "Moderation",
        },
    },
    "fr": {
        "refusal_reasons": {
            "incomprehensible": "elle est difficile à comprendre",
            "off-topic": "elle ne répond pas à la question posée",
            "partisan": "elle a un caractère partisan",
            "legal": "elle contrevient à la loi",
            "advertising": "elle a un caractère publicitaire",
            "multiple-ideas": "elle contient plusieurs idées à la fois",
            "invalid-language": "elle n'est pas rédigée dans la langue de la consultation",
            "rudeness": "elle contient des propos irrespectueux",
            "out-of-political-scope": "elle ne relève pas de l'action publique",
            "already-exists": "une proposition similaire existe déjà",
            "test": "il s'agissait d'une proposition de test",
            "other": "elle ne respecte pas la charte de modération",
        },
        "stances": {
            "commit": "s'est engagé·e en faveur de la campagne",
            "decline": "a refusé de s'engager",
            "other": "a répondu à la campagne",
        },
        "statuses": {
            "not_yet_rated": "pas encore évalué",
            "in_the_works": "en cours",
            "stalled": "au point mort",
            "kept": "tenu",
            "compromise": "compromis",
            "broken": "rompu",
        },
        "sections": {
            "proposal_accepted": "Vos propositions acceptées",
            "proposal_refused": "Vos propositions non retenues",
            "proposal_postponed": "Vos propositions mises en attente",
            "proposal_emerged": "Vos propositions qui ont émergé",
            "campaign_started": "Campagnes lancées sur vos propositions",
            "commitment_made": "Engagements sur vos propositions",
            "campaign_milestone_reached": "Étapes franchies par les campagnes",
            "official_responded": "Réponses des élu·es",
            "commitment_status_changed": "Suivi des engagements",
            "moderation_summary": "Modération",
        },
    },
    "de": {
        "refusal_reasons": {
            "incomprehensible": "er schwer verständlich ist",
            "off-topic": "er nicht zur gestellten Frage passt",
            "partisan": "er parteipolitisch ist",
            "legal": "er gegen geltendes Recht verstößt",
            "advertising": "er Werbung enthält",
            "multiple-ideas": "er mehrere Ideen auf einmal enthält",
            "invalid-language": "er nicht in der Sprache der Konsultation verfasst ist",
            "rudeness": "er respektlose Äußerungen enthält",
            "out-of-political-scope": "er nicht in den Bereich politischen Handelns fällt",
            "already-exists": "es bereits einen ähnlichen Vorschlag gibt",
            "test": "es sich um einen Testvorschlag handelte",
            "other": "er nicht den Moderationsregeln entspricht",
        },
        "stances": {
            "commit": "hat sich zur Kampagne verpflichtet",
            "decline": "hat eine Verpflichtung abgelehnt",
            "other": "hat auf die Kampagne geantwortet",
        },
        "statuses": {
            "not_yet_rated": "noch nicht bewertet",
            "in_the_works": "in Arbeit",
            "stalled": "ins Stocken geraten",
            "kept": "eingehalten",
            "compromise": "Kompromiss",
            "broken": "gebrochen",
        },
        "sections": {
            "proposal_accepted": "Ihre angenommenen Vorschläge",
            "proposal_refused": "Ihre nicht angenommenen Vorschläge",
            "proposal_postponed": "Ihre zurückgestellten Vorschläge",
            "proposal_emerged": "Ihre herausragenden Vorschläge",
            "campaign_started": "Kampagnen zu Ihren Vorschlägen",
            "commitment_made": "Verpflichtungen zu Ihren Vorschlägen",
            "campaign_milestone_reached": "Etappen der Kampagnen",
            "official_responded": "Antworten der Amtsträger",
            "commitment_status_changed": "Stand der Verpflichtungen",
            "moderation_summary": "Moderation",
        },
    },
}


def words_for(language: str) -> dict:
    """Each vocabulary of ``language`` layered over the English one (a missing word is
    English, never an error)."""
    english = WORDS["en"]
    own = WORDS.get(language, {})
    return {name: ChainMap(own.get(name, {}), english[name]) for name in english}
