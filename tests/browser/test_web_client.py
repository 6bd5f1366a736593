"""The web client end to end in headless Chromium against the real platform: the anonymous
vote-then-signup journey, a proposal from submission through moderation to the list, a
campaign and a commitment's status change appearing live on an actor page; phone and
desktop sizes, French / German / English, basic accessibility, the 503 retry path."""
import functools
import os
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from common import testing
from tests.browser.screens import CHROMIUM, DESKTOP, PHONE, screenshot

if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api")

from tests.browser import a11y  # noqa: E402
from tests.browser.driver import expect  # noqa: E402  (Playwright's, on the browser's thread)
from tests.e2e.conftest import Client  # noqa: E402
from tests.e2e.test_journey import _grant  # noqa: E402
from tests.e2e.test_lobbying import _grant as _grant_official  # noqa: E402  (the same command, with --actor)

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PASSWORD = "a long enough password"
TEXTS = ["Il faut planter des arbres dans les cours d'école", "Il faut rendre les transports en commun gratuits",
         "Il faut créer des pistes cyclables séparées des voitures", "Il faut végétaliser les toits des bâtiments publics",
         "Il faut limiter la vitesse à 30 km/h dans les centres-villes", "Il faut ouvrir les cours d'école le week-end"]


_wait = functools.partial(testing.wait_until, timeout=20, interval=0.1)


def _email():
    return f"{uuid.uuid4().hex[:10]}@example.org"


@pytest.fixture(scope="module")
def world(platform):
    """A French question with six accepted proposals (the first one emerged), its
    moderator, an editor, two public actors and the official who answers for the first."""
    admin = Client(platform).register(display_name="Admin")
    _grant(platform, admin.email, "admin")
    admin.login()
    now = datetime.now(timezone.utc)
    question = admin.post("/questions", json={
        "slug": f"web-{uuid.uuid4().hex[:8]}", "title": "Comment mieux vivre en ville ?", "country": "FR",
        "language": "fr", "scope": "national", "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(), "votes_target": 1000}).json()
    local = admin.post("/questions", json={
        "slug": f"web-{uuid.uuid4().hex[:8]}", "title": "Comment rénover les écoles de la ville ?", "country": "FR",
        "language": "fr", "scope": "local", "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=60)).isoformat()}).json()
    proposals = []
    for text in TEXTS:
        author = Client(platform).register().login()
        proposal = author.post(f"/questions/{question['id']}/proposals", json={"content": text}).json()["proposal"]
        assert admin.post(f"/proposals/{proposal['id']}/accept", json={}).status_code == 200
        proposals.append(proposal)
    moderator = Client(platform).register(display_name="Modo")
    _grant(platform, moderator.email, "moderator", question["id"])
    editor = Client(platform).register(display_name="Rédaction")
    _grant(platform, editor.email, "editor")
    editor.login()
    actors = [admin.post("/actors", json={"name": name, "kind": "elected", "level": "national", "country": "FR",
                                          "locale": "fr", "party": "Parti fictif", "mandate": "Député·e",
                                          "contact_emails": []}).json()
              for name in ("Alice Martin (fictive)", "Bruno Leroy (fictive)")]
    official = Client(platform).register(display_name="Alice Martin")
    _grant_official(platform, official.email, "official", actor=actors[0]["id"])
    official.login()
    _wait(lambda: all(Client(platform).get(f"/proposals/{p['id']}/results").status_code == 200 for p in proposals),
          what="voting to learn the accepted proposals")

    target = proposals[0]

    def vote_once():  # new visitors, served the proposal by the sequence, agree (trusted votes)
        visitor = Client(platform)
        items = {i["id"]: i for i in visitor.get(f"/questions/{question['id']}/sequence").json()["items"]}
        if target["id"] in items:
            visitor.put(f"/proposals/{target['id']}/vote", json={
                "key": "agree", "qualifications": ["likeIt", "doable"], "proposal_key": items[target["id"]]["proposal_key"]})
        # a 404 until voting has learnt the acceptance (an event): keep waiting
        return Client(platform).get(f"/proposals/{target['id']}/results").json().get("emerged", False)
    _wait(vote_once, timeout=60, what="the first proposal to emerge")
    return {"admin": admin, "question": question, "local_question": local, "proposals": proposals, "moderator": moderator,
            "editor": editor, "actors": actors, "official": official}


def _login(page, email, password=PASSWORD, next_hash="#/questions"):
    page.goto(f"/#/login?next={next_hash.replace('#', '%23').replace('/', '%2F')}")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("link", name="Réglages")).to_be_visible()


def test_anonymous_votes_then_signup_keeps_them(open_page, world, platform):
    """Vote on three cards anonymously, sign up in the UI, and find the votes in the account."""
    question = world["question"]
    page = open_page(PHONE)
    page.goto("/")
    expect(page.get_by_role("heading", level=1, name="Questions ouvertes")).to_be_visible()
    page.get_by_label("Pays").select_option("FR")
    card = page.locator("li.card", has=page.get_by_role("link", name=question["title"]))
    local = page.get_by_role("link", name=world["local_question"]["title"])
    expect(card).to_be_visible()
    expect(local).to_be_visible()
    a11y.check(page, "questions (phone)")
    screenshot(page, "questions-phone")
    page.get_by_label("Échelon").select_option("national")  # the scope filter
    expect(local).to_have_count(0)
    card.get_by_role("link", name="Voter").click()

    expect(page.get_by_role("heading", name=re.compile(r"Proposition 1 . \d+"))).to_be_visible()
    total = int(re.search(r"/ (\d+)", page.locator(".progress-label").inner_text()).group(1))
    assert 4 <= total <= 12
    choices = [("D’accord", "Coup de cœur"), ("Pas d’accord", "Infaisable"), ("Neutre", None)]
    keys = {"D’accord": "agree", "Pas d’accord": "disagree", "Neutre": "neutral"}
    voted = {}
    for n, (key, qualification) in enumerate(choices, start=1):
        expect(page.locator(".progress-label")).to_have_text(f"Proposition {n} / {total}")
        content = page.locator(".proposal-text").inner_text()
        voted[content] = keys[key]
        button = page.get_by_role("button", name=key, exact=True)
        if n == 3:  # by keyboard: the card's heading has the focus, the positions come next
            for _ in range(3):
                page.keyboard.press("Tab")
            expect(button).to_be_focused()
            assert a11y.focus_is_visible(page)
            page.keyboard.press("Enter")
        else:
            button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#live")).to_contain_text("Vote enregistré")
        if qualification:
            qual = page.get_by_role("button", name=qualification)
            qual.click()
            expect(qual).to_have_attribute("aria-pressed", "true")
        if n == 1:
            a11y.check(page, "voting card (phone)")
            screenshot(page, "vote-card-phone")
        page.get_by_role("button", name="Proposition suivante").click()
    expect(page.locator(".progress-label")).to_have_text(f"Proposition 4 / {total}")
    ids = {p["content"]: p["id"] for p in world["proposals"]}
    anonymous = page.evaluate("""async (ids) => (await fetch('/api/v1/me/votes?' + ids.map(i => 'proposal=' + i).join('&'),
                                   {credentials: 'same-origin'})).json()""", [ids[c] for c in voted])
    assert len(anonymous) == 3  # stored for the anonymous session (the sid cookie)

    # sign up from the navigation: first an e-mail already taken (the API's message is shown),
    # then a malformed one (the field error next to the field), then a good one
    page.get_by_role("link", name="Créer un compte").click()
    expect(page.get_by_role("heading", level=1, name="Créer un compte")).to_be_visible()
    page.get_by_label("Nom affiché").fill("Camille")
    page.get_by_label("Adresse e-mail").fill(world["admin"].email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    a11y.check(page, "signup (phone)")
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.get_by_role("alert")).to_contain_text("already")
    page.get_by_label("Adresse e-mail").fill("camille@")
    page.get_by_role("button", name="Créer mon compte").click()
    email_field = page.get_by_label("Adresse e-mail")
    expect(email_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_be_visible()
    email = _email()
    email_field.fill(email)
    page.get_by_role("button", name="Créer mon compte").click()
    expect(page.get_by_text("Connecté·e : Camille")).to_be_visible()

    # the votes are the account's now: on the question's page, each shows "Votre vote"
    page.goto(f"/#/q/{question['id']}")
    page.get_by_role("tab", name="Récentes").click()
    mine = page.locator("li.proposal", has=page.locator(".my-vote"))

    def merged():
        if mine.count() == 3:
            return True
        page.reload()
        page.get_by_role("tab", name="Récentes").click()
        page.wait_for_selector("ul.proposals")
        return mine.count() == 3
    _wait(merged, what="the anonymous votes to move to the account")
    for content, key in voted.items():
        item = page.locator("li.proposal", has_text=content)
        expect(item.locator(".my-vote")).to_contain_text({"agree": "D’accord", "disagree": "Pas d’accord", "neutral": "Neutre"}[key])
    expect(page.locator("li.proposal", has_text=next(iter(voted))).locator(".my-vote")).to_contain_text("Coup de cœur")

    # and through the API with the account's token (the one the page keeps)
    token = page.evaluate("localStorage.getItem('civic.token')")
    account = Client(platform)
    account.token = token
    assert account.get("/me").json()["email"] == email
    votes = {v["proposal_id"]: v for v in account.get("/me/votes", params={"proposal": [ids[c] for c in voted]}).json()}
    assert {ids[c]: k for c, k in voted.items()} == {pid: v["key"] for pid, v in votes.items()}
    assert votes[ids[next(iter(voted))]]["qualifications"] == ["likeIt"]


def test_proposal_from_submission_through_moderation_to_the_list(open_page, world, platform):
    question = world["question"]
    citizen = Client(platform).register(display_name="Claire")
    page = open_page(PHONE)
    _login(page, citizen.email)

    page.goto(f"/#/propose/{question['id']}")
    box = page.get_by_label("Votre proposition")
    expect(box).to_have_value("Il faut ")  # the question's language prefix
    expect(page.get_by_text("Commencez par « Il faut… »")).to_be_visible()
    box.fill("Il faut x")
    expect(page.locator(".counter")).to_have_text("9 / 140")
    page.get_by_role("button", name="Envoyer ma proposition").click()
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_contain_text("au moins 12")
    box.fill("Il faut " + "très " * 30)
    expect(page.locator(".counter")).to_have_class(re.compile("counter-long"))

    # a near-duplicate: similar published proposals show while typing, likely duplicates after sending
    duplicate = "Il faut rendre les transports en commun gratuits pour tous"
    box.fill(duplicate)
    expect(page.locator(".counter")).to_have_text(f"{len(duplicate)} / 140")
    expect(page.locator(".similar")).to_contain_text(TEXTS[1])
    a11y.check(page, "proposal form (phone)")
    page.get_by_role("button", name="Envoyer ma proposition").click()
    result = page.locator(".result")
    expect(result).to_contain_text("Proposition envoyée")
    expect(result).to_contain_text("En attente de modération")
    expect(result.locator(".duplicates")).to_contain_text(TEXTS[1])
    expect(result.locator(".duplicates")).to_contain_text(re.compile(r"similarité \d+ %"))
    screenshot(page, "propose-phone")
    # while typing, the draft is checked like a submission (GET /questions/{id}/similar): the
    # author's own pending proposal is shown to them, with its status
    box.fill(duplicate + " les jeunes")
    own = page.locator(".similar li", has_text=duplicate)
    expect(own).to_contain_text("En attente de modération")
    expect(page.locator(".similar")).to_contain_text(TEXTS[1])
    original = "Il faut installer des bancs publics dans chaque rue"
    box.fill(original)
    page.get_by_role("button", name="Envoyer ma proposition").click()
    expect(result).to_contain_text(original)
    # one more, sent from another device (the API directly): "my proposals" lists it too
    elsewhere = "Il faut des fontaines à eau potable dans les parcs"
    citizen.login()
    assert citizen.post(f"/questions/{question['id']}/proposals", json={"content": elsewhere}).status_code == 201

    page.get_by_role("link", name="Mes propositions", exact=True).click()
    expect(page.locator("li.card", has_text=duplicate)).to_contain_text("En attente de modération")
    expect(page.locator("li.card", has_text=original)).to_contain_text("En attente de modération")
    expect(page.locator("li.card").first).to_contain_text(elsewhere)  # newest first
    expect(page.locator("li.card", has_text=elsewhere)).to_contain_text(question["title"])

    # the moderator, in another browser (desktop)
    mod = open_page(DESKTOP)
    _login(mod, world["moderator"].email, next_hash="#/moderation")
    expect(mod.get_by_role("heading", level=1, name="File de modération")).to_be_visible()
    mod.get_by_label("Question", exact=True).select_option(question["id"])
    mod.get_by_role("button", name="Charger la file").click()
    dup_item = mod.locator("li.mod-item", has_text=duplicate)
    new_item = mod.locator("li.mod-item", has_text=original)
    expect(dup_item).to_be_visible()
    expect(new_item).to_be_visible()
    expect(dup_item.locator(".duplicates")).to_contain_text(TEXTS[1])
    expect(dup_item.locator(".score").first).to_contain_text("%")
    a11y.check(mod, "moderation (desktop)")
    screenshot(mod, "moderation-desktop")
    dup_item.get_by_role("button", name="Refuser").click()
    expect(dup_item.locator(".card-status")).to_contain_text("Choisissez d’abord un motif")
    dup_item.get_by_label("Motif de refus").select_option("already-exists")
    dup_item.get_by_role("button", name="Refuser").click()
    expect(dup_item).to_contain_text("Refusée (Existe déjà)")
    new_item.get_by_role("button", name="Accepter").click()
    expect(new_item).to_contain_text("Acceptée et publiée")

    # back to the author: statuses, then the list and the search
    page.get_by_role("button", name="Actualiser").click()
    expect(page.locator("li.card", has_text=duplicate)).to_contain_text("Refusée")
    expect(page.locator("li.card", has_text=duplicate)).to_contain_text("Motif : Existe déjà")
    expect(page.locator("li.card", has_text=original)).to_contain_text("Publiée")
    page.goto(f"/#/q/{question['id']}")
    page.get_by_role("tab", name="Récentes").click()
    expect(page.locator("li.proposal", has_text=original)).to_be_visible()
    expect(page.locator("li.proposal", has_text=duplicate)).to_have_count(0)
    page.get_by_label("Rechercher dans les propositions").fill("bancs")
    page.get_by_role("button", name="Rechercher").click()
    expect(page.locator("li.proposal")).to_have_count(1)
    expect(page.locator("li.proposal")).to_contain_text(original)

    # the inbox tells the author both decisions
    def two_notifications():
        page.goto("/#/inbox")
        page.wait_for_selector("#main [role=status]")
        return page.locator("li.note").count() >= 2
    _wait(two_notifications, what="the two notifications")
    expect(page.locator("li.note.unread")).to_have_count(2)
    a11y.check(page, "inbox (phone)")
    screenshot(page, "inbox-phone")
    page.locator("li.note").first.get_by_role("button", name="Marquer comme lue").click()
    expect(page.locator("li.note.unread")).to_have_count(1)
    page.get_by_role("button", name="Tout marquer comme lu").click()
    expect(page.locator("li.note.unread")).to_have_count(0)
    expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()


def test_campaign_and_a_commitment_change_seen_live(open_page, world, platform):
    emerged = world["proposals"][0]
    alice, bruno = world["actors"]
    citizen = Client(platform).register(display_name="Hugo")
    page = open_page(DESKTOP)
    _login(page, citizen.email, next_hash=f"#/p/{emerged['id']}")
    expect(page.get_by_role("heading", level=1, name=emerged["content"])).to_be_visible()
    expect(page.locator(".results")).to_contain_text("Émergée")

    # start a campaign on the emerged proposal, targeting both actors
    page.get_by_label("Titre de la campagne").fill("Des arbres dans chaque école")
    page.get_by_label("Pourquoi c’est important").fill("Les cours d'école sont des îlots de chaleur : obtenons des engagements.")
    page.get_by_label("Objectif (soutiens)").fill("50")
    page.get_by_label("Filtrer les élus par nom").fill("alice")
    expect(page.get_by_label(re.compile("Bruno Leroy"))).to_be_hidden()
    page.get_by_label(re.compile("Alice Martin")).check()
    page.get_by_label("Filtrer les élus par nom").fill("")
    page.get_by_label(re.compile("Bruno Leroy")).check()
    a11y.check(page, "start a campaign (desktop)")
    page.get_by_role("button", name="Lancer la campagne").click()
    expect(page.get_by_role("heading", level=1, name="Des arbres dans chaque école")).to_be_visible()
    targets = page.locator("li.target")
    expect(targets).to_have_count(2)
    expect(targets.first).to_contain_text("Pas encore contacté")
    page.get_by_role("button", name="Soutenir cette campagne").click()
    expect(page.locator("#supporters")).to_have_text("1 soutien sur 50")
    withdraw = page.get_by_role("button", name="Retirer mon soutien")
    expect(withdraw).to_have_attribute("aria-pressed", "true")
    withdraw.click()
    expect(page.locator("#supporters")).to_have_text("0 soutien sur 50")
    page.get_by_role("button", name="Soutenir cette campagne").click()
    expect(page.locator("#supporters")).to_have_text("1 soutien sur 50")
    campaign_id = page.url.rsplit("/", 1)[-1]
    assert Client(platform).get(f"/campaigns/{campaign_id}").json()["supporters"] == 1

    # Alice's official answers: the page follows by itself (the stream), and her commitment is recorded
    expect(page.locator(".live-indicator")).to_have_attribute("data-state", "on")
    page.evaluate("window.__notReloaded = true")
    statement = "Je financerai la plantation d'arbres dans les écoles de ma circonscription."
    answered = world["official"].post(f"/campaigns/{campaign_id}/responses", json={"stance": "commit", "statement": statement})
    assert answered.status_code == 201, answered.text
    alice_target = targets.filter(has_text="Alice Martin")
    expect(alice_target).to_contain_text("A répondu", timeout=15_000)
    expect(alice_target).to_contain_text("S’engage")
    expect(alice_target.locator("blockquote")).to_contain_text(statement)
    expect(page.locator("#live")).to_contain_text(re.compile("Alice Martin \\(fictive\\) (a répondu|s’est engagé)"))
    assert page.evaluate("window.__notReloaded") is True
    a11y.check(page, "campaign (desktop)")
    screenshot(page, "campaign-desktop")

    # the commitment is rated by an editor (through the API) while Alice's page is open
    editor = world["editor"]
    commitment = _wait(lambda: (editor.get("/commitments", params={"campaign": campaign_id}).json()["items"] or [None])[0],
                       what="the official's commitment")
    page.goto(f"/#/actors/{alice['id']}")
    item = page.locator("li.commitment", has_text=statement)
    expect(item).to_contain_text("Pas encore évalué")
    expect(item.get_by_role("link", name="campagne")).to_have_attribute("href", f"#/campaigns/{campaign_id}")
    expect(page.locator(".live-indicator")).to_have_attribute("data-state", "on")
    item.locator("summary").click()
    expect(item.locator(".steps li")).to_have_count(1)
    page.evaluate("window.__notReloaded = true")
    changed = editor.post(f"/commitments/{commitment['id']}/status", json={
        "status": "in_the_works", "evidence_url": "https://example.org/budget", "note": "Ligne budgétaire votée"})
    assert changed.status_code == 200, changed.text
    expect(item.locator(".meta .badge")).to_have_text("En cours", timeout=15_000)
    expect(page.locator(".by-status li[data-status=in_the_works] .count")).to_have_text("1")
    expect(item.locator(".steps li")).to_have_count(2)  # the open timeline followed
    expect(item.locator(".steps")).to_contain_text("Ligne budgétaire votée")
    expect(page.locator("#live")).to_contain_text("En cours")
    assert page.evaluate("window.__notReloaded") is True
    changed = editor.post(f"/commitments/{commitment['id']}/status", json={
        "status": "kept", "evidence_url": "https://example.org/jo"})
    assert changed.status_code == 200, changed.text
    expect(item.locator(".meta .badge")).to_have_text("Tenu", timeout=15_000)
    expect(page.locator(".share-kept strong")).to_have_text(re.compile(r"100\s%"))
    assert page.evaluate("window.__notReloaded") is True
    a11y.check(page, "actor (desktop)")
    screenshot(page, "actor-desktop")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_screen_is_labelled_and_fits(open_page, world, viewport):
    """A moderator sees every screen; each passes the basic accessibility checks."""
    page = open_page(viewport)
    _login(page, world["moderator"].email)
    question, proposal, actor = world["question"], world["proposals"][0], world["actors"][0]
    screens = [("#/questions", "Questions ouvertes"), (f"#/q/{question['id']}", question["title"]),
               (f"#/vote/{question['id']}", question["title"]), (f"#/propose/{question['id']}", question["title"]),
               (f"#/p/{proposal['id']}", proposal["content"]), ("#/me/proposals", "Mes propositions"),
               ("#/moderation", "File de modération"), ("#/campaigns", "Campagnes"), ("#/actors", "Élus et acteurs publics"),
               (f"#/actors/{actor['id']}", actor["name"]), ("#/inbox", "Notifications"), ("#/settings", "Réglages")]
    for hash_, title in screens:
        page.goto(f"/{hash_}")
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        expect(page.locator("#main")).not_to_have_attribute("aria-busy", "true")
        a11y.check(page, f"{hash_} ({viewport['width']}px)")
    # keyboard: the skip link comes first and shows its focus
    page.goto("/#/questions?country=FR")
    page.reload()
    expect(page.get_by_role("link", name=world["question"]["title"])).to_be_visible()
    if viewport is DESKTOP:
        screenshot(page, "questions-desktop")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "skip"
    assert a11y.focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    # preferences are saved through the API
    page.goto("/#/settings")
    page.get_by_label("Une campagne que je soutiens franchit un palier").select_option("weekly")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Préférences enregistrées.")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Une campagne que je soutiens franchit un palier")).to_have_value("weekly")


def test_language_from_the_browser_switchable_and_remembered(open_page, world):
    page = open_page(PHONE, locale="de-DE")
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Offene Fragen")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    a11y.check(page, "questions in German (phone)")
    page.get_by_label("Sprache").select_option("en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Open questions")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Open questions")
    expect(page.get_by_role("link", name="Sign up")).to_be_visible()
    page.goto(f"/#/vote/{world['question']['id']}")
    expect(page.get_by_role("button", name="Agree", exact=True)).to_be_visible()
    page.get_by_role("button", name="Disagree", exact=True).click()
    expect(page.get_by_role("button", name="No way!")).to_be_visible()


def test_unavailable_service_shows_a_retry(open_page, world):
    page = open_page(PHONE)
    listing = re.compile(r"/api/v1/questions\?")
    page.route(listing, lambda route: route.fulfill(
        status=503, content_type="application/json", headers={"Retry-After": "1"},
        body='{"code": 503, "status": "Service Unavailable", "message": "proposals did not answer"}'))
    page.goto("/#/questions")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("momentanément indisponible")
    page.unroute(listing)
    alert.get_by_role("button", name="Réessayer").click()
    expect(page.get_by_role("link", name=world["question"]["title"])).to_be_visible()


def test_string_tables_have_the_same_keys(open_page):
    """Every language has every string (plural variants such as `_one` may differ)."""
    page = open_page(PHONE)
    page.goto("/")
    keys = page.evaluate("""async () => Object.fromEntries(await Promise.all(['en', 'fr', 'de'].map(
        async (code) => [code, Object.keys((await import(`/static/js/lang/${code}.js`)).default)
            .filter((k) => !/_(zero|one|two|few|many)$/.test(k)).sort()])))""")
    assert keys["fr"] == keys["en"] and keys["de"] == keys["en"], (
        set(keys["en"]) ^ set(keys["fr"]), set(keys["en"]) ^ set(keys["de"]))
