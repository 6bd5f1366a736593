"""``make demo``: seed a running platform (``make run``) with a realistic FR / DE / UK dataset,
so that a newcomer sees a living platform.

What it creates, through the services' RPC (as the gateway and the operator commands call
them) on the platform's broker (``AMQP_URI``, default the local one):

- accounts: a demo admin (printed with its password), citizens in France, Germany and the
  United Kingdom, an official linked to a public actor;
- three open questions, in French, German and English, each with ~40 proposals in its
  language (most accepted, a few refused with a reason, a few pending in the moderation
  queue);
- votes: anonymous and logged-in voters served by the voting sequence, voting on what
  they are shown (their agreement drawn from each proposal's hidden approval rate);
- an emerged proposal (enough trusted agreeing votes), a crowd-lobbying campaign on it with
  supporters (milestones reached, its targets interpellated), the official's answer (a
  commitment) and an editor's rating of that commitment;
- public actors: the sample French deputies (services/commitments/examples) and a few
  fictional German and British ones.

The texts come from the benchmark generators (bench/datagen.py). Each run uses a fresh tag
(e-mails, slugs), so it can be run again on the same platform.

    PYTHONPATH=. .venv/bin/python scripts/demo.py [--voters 100] [--proposals 40] [--api URL]
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import secrets
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.datagen import QUESTIONS, Seeder, cast_vote, person, proposal_text  # noqa: E402
from common import config as settings  # noqa: E402
from common.rpc_client import RemoteError, RpcClient  # noqa: E402

COUNTRIES = ("FR", "DE", "GB")
ACTORS_CSV = ROOT / "services" / "commitments" / "examples" / "fr_deputies_sample.csv"
EXTRA_ACTORS = (
    {"name": "Jana Beispiel (fictional)", "kind": "elected", "party": "Erfundene Partei", "mandate": "MdB",
     "level": "national", "country": "DE", "constituency": "Musterstadt I", "contact_emails": ["jana.beispiel@example.org"],
     "locale": "de", "external_id": "DE-BT-EXAMPLE-0001"},
    {"name": "Max Muster (fictional)", "kind": "elected", "party": "Partei der Beispiele", "mandate": "MdB",
     "level": "national", "country": "DE", "constituency": "Beispielhausen", "contact_emails": ["max.muster@example.org"],
     "locale": "de", "external_id": "DE-BT-EXAMPLE-0002"},
    {"name": "Alex Placeholder (fictional)", "kind": "elected", "party": "Imaginary Party", "mandate": "MP",
     "level": "national", "country": "GB", "constituency": "Exampleton North", "contact_emails": ["alex.placeholder@example.org"],
     "locale": "en", "external_id": "GB-HC-EXAMPLE-0001"},
)
REFUSALS = ("off-topic", "multiple-ideas")


def log(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


def caller_of(user: dict, **extra) -> dict:
    return {"user_id": user["id"], "roles": user.get("roles") or ["citizen"],
            "moderated_questions": user.get("moderated_questions") or [], "actor_id": user.get("actor_id"), **extra}


def retry(fn, what: str, timeout: float = 30.0, exc_types=("Conflict", "NotFound")):
    """Retry while the platform is still learning something from events."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except RemoteError as exc:
            if exc.exc_type not in exc_types or time.monotonic() > deadline:
                raise RuntimeError(f"{what}: {exc}") from None
            time.sleep(0.3)


class Demo:
    def __init__(self, rpc: RpcClient, args):
        self.rpc, self.args = rpc, args
        self.rng = random.Random(args.seed)
        self.tag = args.tag or uuid.uuid4().hex[:6]
        self.password = "demo-" + secrets.token_urlsafe(9)
        self.citizens: dict[str, list] = {}

    # -- people ----------------------------------------------------------------------------
    def register(self, country: str, serial: int, role: str | None = None, **grant) -> dict:
        p = person(country, self.rng, serial)
        email = p["email"].replace("@", f"+{self.tag}@")
        user = self.rpc.accounts.register({"email": email, "password": self.password,
                                           "display_name": p["display_name"], "country": country,
                                           "language": p["language"]})
        if role:
            user = self.rpc.accounts.grant_role(dict({"email": email, "role": role}, **grant))
        user["email"] = email
        return user

    def people(self) -> None:
        self.admin = self.register("FR", 0, "admin")
        with ThreadPoolExecutor(6) as pool:
            for country in COUNTRIES:
                self.citizens[country] = list(pool.map(lambda i, c=country: self.register(c, i),
                                                       range(1, self.args.citizens + 1)))
        log(f"accounts: admin {self.admin['email']}, {sum(map(len, self.citizens.values()))} citizens in FR/DE/GB")

    # -- questions and proposals -----------------------------------------------------------
    def questions(self) -> None:
        seeder = Seeder(self.rpc, self.admin["id"], threads=6)
        seeder.admin = caller_of(self.admin)
        self.seeder = seeder
        self.ballots = []
        for spec in QUESTIONS:
            q = seeder.question(spec, suffix=f"-{self.tag}", votes_target=2000)
            country, lang = spec["country"], spec["language"]
            authors = self.citizens[country]
            n = self.args.proposals
            texts = [proposal_text(lang, self.rng) for _ in range(n)]
            items = [(authors[i % len(authors)]["id"], texts[i],
                      [self.rng.choice(["mobilite", "climat", "sante", "logement", "ecole"])]) for i in range(n)]
            accepted_n = n - 6
            accepted = seeder.proposals(q, items[:accepted_n])
            for author_id, text, _ in items[accepted_n:accepted_n + 2]:  # refused, with a reason
                p = seeder.proposal(q["id"], author_id, text + " (et autre chose)", accept=False)
                self.rpc.proposals.refuse_proposal(seeder.admin, p["id"], {"reason": REFUSALS[len(text) % 2]})
            for author_id, text, _ in items[accepted_n + 2:]:  # left for the moderators
                seeder.proposal(q["id"], author_id, text, accept=False)
            rates = {p["id"]: self.rng.betavariate(3, 3) for p in accepted}
            self.ballots.append({"question": q, "accepted": accepted, "rates": rates})
            log(f"question {q['slug']} ({country}/{lang}): {accepted_n} proposals accepted, 2 refused, 4 pending")
        for b in self.ballots:
            seeder.wait_voting_knows(b["question"]["id"], len(b["accepted"]))

    # -- votes -------------------------------------------------------------------------------
    def voter_session(self, ballot: dict, user: dict | None, seed: int) -> int:
        rng = random.Random(seed)
        voter = {"user_id": user["id"] if user else None, "session_id": f"demo{self.tag}{seed:010d}"}
        served = self.rpc.voting.sequence(ballot["question"]["id"], voter)
        n = 0
        for item in served["items"]:
            if rng.random() < 0.15:  # skipped
                continue
            key, quals = cast_vote(ballot["rates"].get(item["proposal_id"], 0.5), rng)
            self.rpc.voting.vote(voter, item["proposal_id"], {"key": key, "qualifications": list(quals),
                                                              "proposal_key": item["proposal_key"]})
            n += 1
        return n

    def votes(self) -> None:
        jobs = []
        for b, country in zip(self.ballots, COUNTRIES):
            citizens = self.citizens[country]
            for i in range(self.args.voters):
                user = citizens[i % len(citizens)] if i < len(citizens) else None  # the rest anonymous
                jobs.append((b, user, hash((b["question"]["id"], i)) & 0x7FFFFFFF))
        with ThreadPoolExecutor(8) as pool:
            total = sum(pool.map(lambda j: self.voter_session(*j), jobs))
        log(f"votes: {total:,} votes from {len(jobs):,} voter sessions served by the sequence")

    def emerge(self) -> dict:
        """Enough trusted agreeing votes on the French question's favourite for it to emerge."""
        ballot = self.ballots[0]
        favourite = max(ballot["accepted"], key=lambda p: ballot["rates"][p["id"]])
        pid = favourite["id"]

        def vote(i):
            session = f"demoemerge{self.tag}{i:08d}"
            key = self.rpc.voting.proposal_keys(session, [pid])[pid]
            quals = ["likeIt"] if i % 3 else ["likeIt", "doable"]
            self.rpc.voting.vote({"user_id": None, "session_id": session}, pid,
                                 {"key": "agree" if i % 10 else "neutral", "qualifications": quals if i % 10 else [],
                                  "proposal_key": key})

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(vote, range(self.args.emergence_votes)))
        results = self.rpc.voting.results(pid)
        log(f"emergence: \"{favourite['content']}\" has {results['votes']['trusted']} trusted votes, "
            f"emerged: {results['emerged']}")
        return favourite

    # -- public actors, a campaign, a commitment -----------------------------------------------
    def actors(self) -> list:
        with open(ACTORS_CSV, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        admin = caller_of(self.admin)
        self.rpc.commitments.import_actors(admin, rows)
        for actor in EXTRA_ACTORS:
            try:
                self.rpc.commitments.create_actor(admin, actor)
            except RemoteError as exc:
                if exc.exc_type != "Conflict":  # already there from an earlier demo run
                    raise
        fr = self.rpc.commitments.list_actors({"country": "FR", "per_page": 10})["items"]
        log(f"public actors: {len(rows)} French deputies (sample) and {len(EXTRA_ACTORS)} German and British ones")
        return fr

    def campaign(self, proposal: dict, actors: list) -> None:
        author = next(u for users in self.citizens.values() for u in users if u["id"] == proposal["author_id"])
        targets = [a["id"] for a in actors[:2]]
        body = {"proposal_id": proposal["id"], "title": "Des trains de nuit pour toutes les régions",
                "pitch": "Cette proposition a émergé de la consultation : demandons aux députés de s'engager.",
                "target_actor_ids": targets, "goal": 30}
        campaign = retry(lambda: self.rpc.lobbying.create_campaign(caller_of(author), body),
                         "lobbying has not learnt the emergence yet")
        supporters = [u for u in self.citizens["FR"] if u["id"] != author["id"]][:25]
        for u in supporters:
            self.rpc.lobbying.support(caller_of(u), campaign["id"])
        log(f"campaign \"{body['title']}\": {len(supporters)} supporters (milestones reached, targets interpellated)")
        # the first target's official answers with a commitment; an editor (the admin) rates it
        official = self.register("FR", 999, "official", actor_id=targets[0])
        self.rpc.lobbying.respond(caller_of(official, roles=["citizen", "official"], actor_id=targets[0]),
                                  campaign["id"], {"stance": "commit",
                                                   "statement": "Je déposerai un amendement en ce sens."})

        def rated():
            found = self.rpc.commitments.list_commitments({"campaign": campaign["id"]})["items"]
            if not found:
                raise RemoteError("NotFound", "not yet")
            return found[0]

        commitment = retry(rated, "the commitment did not arrive", exc_types=("NotFound",))
        self.rpc.commitments.set_status(caller_of(self.admin), commitment["id"], {
            "status": "in_the_works", "evidence_url": "https://example.org/amendement-trains-de-nuit",
            "note": "Amendement déposé en commission."})
        de_actor = self.rpc.commitments.list_actors({"country": "DE", "per_page": 1})["items"]
        if de_actor:
            self.rpc.commitments.create_commitment(caller_of(self.admin), {
                "actor_id": de_actor[0]["id"], "statement": "Ich setze mich für mehr Nachtzüge ein.",
                "made_at": datetime.now(timezone.utc).isoformat(), "source_url": "https://example.org/interview"})
        log("commitment: the official committed, an editor rated it \"in the works\"; one more recorded in Germany")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--amqp", default=settings.amqp_uri(), help="the platform's broker (AMQP_URI)")
    ap.add_argument("--api", default=os.environ.get("DEMO_API", "http://127.0.0.1:8000/api/v1"))
    ap.add_argument("--citizens", type=int, default=20, help="citizens per country")
    ap.add_argument("--proposals", type=int, default=40, help="proposals per question")
    ap.add_argument("--voters", type=int, default=100, help="voter sessions per question")
    ap.add_argument("--emergence-votes", type=int, default=130)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--tag", help="suffix of e-mails and slugs (default: random)")
    args = ap.parse_args(argv)
    started = time.monotonic()
    with RpcClient(args.amqp, timeout=30, pool_size=16) as rpc:
        try:
            rpc.accounts.ping()
        except Exception as exc:
            print(f"[demo] the platform does not answer on {args.amqp.split('@')[-1]} ({exc}): start it with "
                  f"`make run` first", file=sys.stderr)
            return 1
        demo = Demo(rpc, args)
        demo.people()
        demo.questions()
        demo.votes()
        favourite = demo.emerge()
        actors = demo.actors()
        demo.campaign(favourite, actors)
    print(f"\nDemo dataset ready in {time.monotonic() - started:.0f} s (tag {demo.tag}).\n"
          f"  Log in as the demo admin: {demo.admin['email']} / {demo.password}\n"
          f"    curl -s -XPOST {args.api}/auth/token -H 'content-type: application/json' "
          f"-d '{{\"email\":\"{demo.admin['email']}\",\"password\":\"{demo.password}\"}}'\n"
          f"  Citizens use the same password, e.g. {demo.citizens['DE'][0]['email']}\n"
          f"  Questions: {args.api}/questions   (then .../questions/<id>/proposals?sort=popular, /sequence)\n"
          f"  Campaigns: {args.api}/campaigns   Public actors: {args.api}/actors   Live: {args.api}/stream\n",
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
