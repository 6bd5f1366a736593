"""Data generators shared by the benchmarks and the demo dataset (scripts/demo.py).

Everything here is deterministic for a given seed and pure, except the two loaders at the
end: ``Seeder`` (through the services' RPC, as the gateway calls them) and ``copy_rows``
(PostgreSQL COPY, for the bulk loads of the scale benchmarks).

- ``proposal_text(lang, rng)``: a plausible proposal in French, German or English
  ("Il faut ...", "Man sollte ...", "We should ..."), 12-140 characters, drawn from
  combinable phrase lists, so a million of them are varied and full-text search has real
  words (stemmed by PostgreSQL's french / german / english configurations) to find;
- ``QUESTIONS``: one question per country (FR, DE, GB) with its title, slug and scope;
- ``person(country, rng)``: a display name and an e-mail;
- ``cast_vote(rate, rng)``: one vote (key + qualifications) on a proposal whose true
  approval rate is ``rate``, with ``counts_of(votes)`` the counts JSON the voting service
  keeps (``services.voting.persistence.empty_counts`` layout);
- ``VoteSchedule``: which (session, proposal) pair the n-th vote of a load test is, all
  pairs distinct.
"""
from __future__ import annotations

import io
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator, Sequence

from services.voting import scoring

# -- text ---------------------------------------------------------------------------------------
PHRASES = {
    "fr": {
        "start": ["Il faut", "Il faudrait", "On doit", "Il est urgent de", "Nous devons"],
        "verb": ["développer", "rendre gratuits", "financer", "généraliser", "protéger", "rénover", "taxer",
                 "simplifier", "interdire", "encourager", "multiplier", "réduire le coût des", "ouvrir",
                 "planter", "subventionner", "moderniser", "limiter", "sécuriser"],
        "object": ["les transports en commun", "les pistes cyclables", "les cantines bio", "les logements sociaux",
                   "les énergies renouvelables", "les petits commerces", "les écoles rurales", "les hôpitaux de proximité",
                   "les arbres en ville", "les trains de nuit", "les jardins partagés", "les bibliothèques",
                   "les panneaux solaires", "les circuits courts", "les maisons de santé", "les vols intérieurs",
                   "les emballages plastiques", "les services publics", "les zones piétonnes", "les crèches"],
        "tail": ["dans chaque commune", "pour les jeunes", "en zone rurale", "d'ici 2030", "pour tous les foyers",
                 "avec les associations locales", "le week-end", "près des gares", "pour réduire la pollution",
                 "sans augmenter les impôts", "dans les quartiers populaires", "pour le climat", "", "", ""],
    },
    "de": {
        "start": ["Man sollte", "Wir müssen", "Es braucht", "Die Stadt sollte", "Der Bund sollte"],
        "verb": ["ausbauen", "fördern", "kostenlos machen", "schützen", "sanieren", "besteuern",
                 "vereinfachen", "verbieten", "erweitern", "modernisieren", "begrenzen", "unterstützen"],
        "object": ["den öffentlichen Nahverkehr", "die Radwege", "die Bioküche in Schulen", "den sozialen Wohnungsbau",
                   "die erneuerbaren Energien", "den Einzelhandel", "die Dorfschulen", "die Krankenhäuser",
                   "die Stadtbäume", "die Nachtzüge", "die Gemeinschaftsgärten", "die Bibliotheken",
                   "die Solaranlagen", "die regionale Landwirtschaft", "die Gesundheitszentren", "die Inlandsflüge",
                   "die Plastikverpackungen", "die Fußgängerzonen", "die Kitas", "die Glasfasernetze"],
        "tail": ["in jeder Gemeinde", "für junge Menschen", "auf dem Land", "bis 2030", "für alle Haushalte",
                 "mit den Vereinen vor Ort", "am Wochenende", "an den Bahnhöfen", "gegen die Luftverschmutzung",
                 "ohne höhere Steuern", "in allen Stadtteilen", "für das Klima", "", "", ""],
    },
    "en": {
        "start": ["We should", "The government should", "Councils should", "We must", "Let's"],
        "verb": ["expand", "make free", "fund", "protect", "renovate", "tax", "simplify", "ban", "encourage",
                 "double", "cut the cost of", "open up", "subsidise", "modernise", "limit", "secure"],
        "object": ["public transport", "cycle lanes", "school meals", "social housing", "renewable energy",
                   "local shops", "rural schools", "community hospitals", "street trees", "night trains",
                   "community gardens", "public libraries", "solar panels", "local farming", "GP surgeries",
                   "domestic flights", "plastic packaging", "public services", "pedestrian zones", "childcare"],
        "tail": ["in every town", "for young people", "in rural areas", "by 2030", "for every household",
                 "with local charities", "at weekends", "near stations", "to cut pollution", "without raising taxes",
                 "in every neighbourhood", "for the climate", "", "", ""],
    },
}
# search terms that occur in the generated texts (stems match across inflections)
SEARCH_TERMS = {
    "fr": ["transports", "cyclables", "logements sociaux", "arbres", "trains de nuit", "énergies renouvelables",
           "écoles rurales", "bibliothèques", "climat", "jardins"],
    "de": ["Nahverkehr", "Radwege", "Wohnungsbau", "Stadtbäume", "Nachtzüge", "Energien", "Dorfschulen",
           "Bibliotheken", "Klima", "Gemeinschaftsgärten"],
    "en": ["public transport", "cycle lanes", "social housing", "trees", "night trains", "renewable energy",
           "rural schools", "libraries", "climate", "gardens"],
}


def proposal_text(lang: str, rng: random.Random, serial: int | None = None) -> str:
    """One proposal (12-140 characters). ``serial`` appends a number that keeps a million
    texts distinct without changing their words."""
    p = PHRASES[lang]
    parts = [rng.choice(p["start"]), rng.choice(p["verb"]), rng.choice(p["object"]), rng.choice(p["tail"])]
    if lang == "de":  # "Man sollte den Nahverkehr ausbauen": the verb goes last
        parts = [parts[0], parts[2], parts[3], parts[1]]
    text = " ".join(x for x in parts if x)
    if serial is not None:
        text += f" (n° {serial})" if lang == "fr" else f" (Nr. {serial})" if lang == "de" else f" (no. {serial})"
    return text[:140]


QUESTIONS = (
    {"country": "FR", "language": "fr", "scope": "national", "slug": "transition-ecologique",
     "title": "Comment accélérer la transition écologique dans nos territoires ?"},
    {"country": "DE", "language": "de", "scope": "national", "slug": "verkehrswende",
     "title": "Wie gelingt die Verkehrswende in Stadt und Land?"},
    {"country": "GB", "language": "en", "scope": "national", "slug": "better-public-services",
     "title": "How can we make public services work better for everyone?"},
)

FIRST = {"FR": ["Camille", "Léa", "Hugo", "Manon", "Lucas", "Chloé", "Nathan", "Inès", "Jules", "Sarah"],
         "DE": ["Lena", "Jonas", "Mia", "Felix", "Hannah", "Paul", "Lea", "Lukas", "Emma", "Ben"],
         "GB": ["Olivia", "Jack", "Amelia", "Harry", "Isla", "George", "Ava", "Noah", "Mia", "Oscar"]}
LAST = {"FR": ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"],
        "DE": ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann"],
        "GB": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Evans"]}
LANGUAGE = {"FR": "fr", "DE": "de", "GB": "en"}


def _ascii(name: str) -> str:
    import unicodedata

    name = name.lower().replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("ß", "ss")
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()


def person(country: str, rng: random.Random, serial: int) -> dict:
    first, last = rng.choice(FIRST[country]), rng.choice(LAST[country])
    return {"display_name": f"{first} {last}", "email": f"{_ascii(first)}.{_ascii(last)}.{serial}@example.org",
            "country": country, "language": LANGUAGE[country]}


# -- votes --------------------------------------------------------------------------------------
QUALIFY = {
    "agree": (("likeIt", 0.30), ("doable", 0.20), ("platitudeAgree", 0.03)),
    "disagree": (("noWay", 0.30), ("impossible", 0.10), ("platitudeDisagree", 0.03)),
    "neutral": (("doNotCare", 0.20), ("noOpinion", 0.10)),
}


def cast_vote(rate: float, rng: random.Random, neutral: float = 0.1) -> tuple:
    """(key, qualifications) of one voter on a proposal of true approval ``rate``."""
    if rng.random() < neutral:
        key = "neutral"
    else:
        key = "agree" if rng.random() < rate else "disagree"
    return key, tuple(q for q, prob in QUALIFY[key] if rng.random() < prob)


LEVELS = ("all", "trusted", "sequence")


def counts_of(votes: Iterable[tuple]) -> dict:
    """The voting service's counts JSON for votes ``(key, qualifications, trusted, sequence)``."""
    counts = {level: {item: 0 for item in scoring.ITEMS} for level in LEVELS}
    for key, quals, trusted, seq in votes:
        levels = ("all",) + (("trusted",) if trusted else ()) + (("sequence",) if seq else ())
        for level in levels:
            counts[level][key] += 1
            for q in quals:
                counts[level][q] += 1
    return counts


def score_columns(counts: dict, rules: scoring.ScoreRules = scoring.ScoreRules()) -> dict:
    """The denormalised columns of voting's proposals row for these counts."""
    s = scoring.scores(counts["trusted"], rules)
    return {
        "votes_all": sum(counts["all"][k] for k in scoring.KEYS),
        "votes_trusted": sum(counts["trusted"][k] for k in scoring.KEYS),
        "votes_sequence": sum(counts["sequence"][k] for k in scoring.KEYS),
        "top_score": s["top_score"].value, "top_score_lb": s["top_score"].lower,
        "controversy_lb": s["controversy"].lower, "zone": s["zone"],
    }


@dataclass(frozen=True)
class VoteSchedule:
    """The n-th vote of a load test: session ``n // per_session`` votes on proposal
    ``(session * per_session + n % per_session) % len(proposals)``: the votes of a session
    are on distinct proposals (len(proposals) >= per_session), and sessions are distinct
    per run (``run`` is part of the session id), so every vote is a first vote ("cast")."""

    proposals: Sequence[str]
    run: str
    per_session: int = 12

    def __post_init__(self):
        if len(self.proposals) < self.per_session:
            raise ValueError("need at least per_session proposals")

    def session(self, n: int) -> str:
        return f"{self.run}{n // self.per_session:012d}"

    def proposal(self, n: int) -> str:
        s, j = divmod(n, self.per_session)
        return self.proposals[(s * self.per_session + j) % len(self.proposals)]

    def vote(self, n: int) -> tuple[str, str, str, tuple]:
        """(session, proposal, key, qualifications), deterministic in n."""
        rng = random.Random(n)
        key, quals = cast_vote(0.6, rng)
        return self.session(n), self.proposal(n), key, quals


def open_question_dates(now: datetime | None = None, days: int = 60) -> tuple[datetime, datetime]:
    now = now or datetime.now(timezone.utc)
    return now - timedelta(days=1), now + timedelta(days=days)


def deterministic_uuid(namespace: str, n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{n}"))


# -- COPY ---------------------------------------------------------------------------------------
def copy_escape(value) -> str:
    """A value in PostgreSQL COPY text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    s = value if isinstance(value, str) else str(value)
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


class _LineReader(io.RawIOBase):
    """A file-like object over an iterator of COPY lines (str), for ``copy_expert``."""

    def __init__(self, lines: Iterator[str], progress=None, chunk_rows: int = 5000):
        self._lines = lines
        self._buf = b""
        self._progress = progress
        self._chunk_rows = chunk_rows

    def readable(self):
        return True

    def readinto(self, b):
        while len(self._buf) < len(b):
            chunk = []
            for _ in range(self._chunk_rows):
                line = next(self._lines, None)
                if line is None:
                    break
                chunk.append(line)
            if not chunk:
                break
            if self._progress is not None:
                self._progress.update(len(chunk))
            self._buf += "".join(chunk).encode()
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def copy_rows(conn, table: str, columns: Sequence[str], lines: Iterator[str], progress=None) -> None:
    """COPY ``lines`` (each ``"\\t".join(escaped values) + "\\n"``) into ``table`` on a
    psycopg2 connection (committed by the caller)."""
    reader = io.BufferedReader(_LineReader(lines, progress), buffer_size=1 << 20)
    with conn.cursor() as cur:
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", reader, size=1 << 20)


def line(values: Sequence) -> str:
    return "\t".join(copy_escape(v) for v in values) + "\n"


# -- seeding through the services' RPC ------------------------------------------------------------
class Seeder:
    """Creates questions and accepted proposals by calling the proposals service as the
    gateway does (an admin caller for questions and moderation, authors for proposals);
    voting learns them from the events, as in production."""

    def __init__(self, rpc, admin_id: str | None = None, threads: int = 8):
        self.rpc = rpc
        self.admin = {"user_id": admin_id or str(uuid.uuid4()), "roles": ["admin"], "moderated_questions": []}
        self.threads = threads

    def question(self, spec: dict, suffix: str = "", days: int = 60, votes_target: int | None = None) -> dict:
        starts, ends = open_question_dates(days=days)
        body = {"slug": (spec["slug"] + suffix)[:80], "title": spec["title"], "country": spec["country"],
                "language": spec["language"], "scope": spec["scope"], "starts_at": starts.isoformat(),
                "ends_at": ends.isoformat(), "votes_target": votes_target}
        return self.rpc.call("proposals", "create_question", self.admin, body)

    def proposal(self, question_id: str, author_id: str, text: str, accept: bool = True, tags=None) -> dict:
        author = {"user_id": author_id, "roles": ["citizen"], "moderated_questions": []}
        submitted = self.rpc.call("proposals", "submit_proposal", author, question_id, {"content": text})
        proposal = submitted["proposal"]
        if accept:
            proposal = self.rpc.call("proposals", "accept_proposal", self.admin, proposal["id"],
                                     {"tags": tags} if tags else {})
        return proposal

    def proposals(self, question: dict, items: Sequence[tuple], accept: bool = True, progress=None) -> list:
        """``items``: (author_id, text[, tags]); all submitted, then all accepted (as a
        moderation queue is worked through), on ``threads`` threads."""
        from concurrent.futures import ThreadPoolExecutor

        def submit(item):
            author = {"user_id": item[0], "roles": ["citizen"], "moderated_questions": []}
            return self.rpc.call("proposals", "submit_proposal", author, question["id"], {"content": item[1]})["proposal"]

        def moderate(pair):
            proposal, item = pair
            tags = item[2] if len(item) > 2 else None
            out = self.rpc.call("proposals", "accept_proposal", self.admin, proposal["id"], {"tags": tags} if tags else {})
            if progress is not None:
                progress.update(1)
            return out

        with ThreadPoolExecutor(self.threads) as pool:
            submitted = list(pool.map(submit, items))
            if not accept:
                return submitted
            return list(pool.map(moderate, zip(submitted, items)))

    def known_to_voting(self, question_id: str) -> set:
        """Ids of the accepted proposals voting has learnt (ranking pages)."""
        ids, page = set(), 1
        while True:
            got = self.rpc.call("voting", "ranking", question_id, {"per_page": 100, "page": page})
            ids.update(i["proposal_id"] for i in got["items"])
            if len(got["items"]) < 100:
                return ids
            page += 1

    def wait_voting_knows(self, question_id: str, accepted: int, timeout: float = 60.0) -> None:
        """Until voting has learnt ``accepted`` accepted proposals of the question (events);
        TimeoutError otherwise."""
        import time

        deadline = time.monotonic() + timeout
        total = -1
        while time.monotonic() < deadline:
            try:
                total = self.rpc.call("voting", "ranking", question_id, {"per_page": 1})["total"]
            except Exception:
                total = -1
            if total >= accepted:
                return
            time.sleep(0.3)
        raise TimeoutError(f"voting knows {total} of {accepted} proposals of {question_id}")
