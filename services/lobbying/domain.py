"""Crowd-lobbying rules as pure functions: campaign validation, target eligibility,
milestones, target states, officials' responses. No I/O."""
from __future__ import annotations

import math
from dataclasses import dataclass


class DomainError(Exception):
    pass


class ValidationFailed(DomainError):
    def __init__(self, fields: dict):
        super().__init__(fields)
        self.fields = fields


class Forbidden(DomainError):
    pass


class Conflict(DomainError):
    pass


STANCES = ("commit", "decline", "other")
TARGET_STATES = ("not_contacted", "interpellated", "responded")
CAMPAIGN_STATUSES = ("active", "closed")


@dataclass(frozen=True)
class LobbyingRules:
    absolute_milestones: tuple = (100, 1000, 10000)
    goal_fractions: tuple = (0.33, 0.66)
    min_goal: int = 10
    max_goal: int = 10_000_000
    max_targets: int = 20
    title_length: tuple = (5, 120)
    pitch_length: tuple = (20, 2000)
    statement_length: tuple = (1, 5000)
    send_window_start_hour: int = 9    # local time of the target
    send_window_end_hour: int = 18
    max_messages_per_hour_per_target: int = 10
    notify_supporters_min_days: int = 3  # Consul: authors may notify supporters at most every 3 days

    @classmethod
    def from_mapping(cls, values: dict | None) -> "LobbyingRules":
        """Overrides from configuration, cast to the defaults' types; unknown keys ignored."""
        values, defaults, out = dict(values or {}), cls(), {}
        for key in cls.__dataclass_fields__:
            if key in values:
                default = getattr(defaults, key)
                if isinstance(default, tuple):
                    out[key] = tuple(type(default[0])(v) for v in values[key])
                else:
                    out[key] = type(default)(values[key])
        return cls(**out)


def milestones_for(goal: int, rules: LobbyingRules) -> list[dict]:
    """Supporter counts that are milestones for a campaign, ascending, each once:
    the absolute ones up to the goal, and the goal fractions (33 %, 66 % by default)."""
    points = {}
    for fraction in rules.goal_fractions:
        count = max(1, math.ceil(goal * fraction))
        points[count] = {"milestone": count, "kind": "goal_share", "share": fraction}
    for count in rules.absolute_milestones:
        if count <= goal:
            points.setdefault(count, {"milestone": count, "kind": "count", "share": None})
    if goal not in points:
        points[goal] = {"milestone": goal, "kind": "goal", "share": 1.0}
    return [points[k] for k in sorted(points)]


def crossed(before: int, after: int, milestones: list[dict]) -> list[dict]:
    return [m for m in milestones if before < m["milestone"] <= after]


def _length(value, bounds, name, errors):
    """Normalise (titles: whitespace collapsed; other texts: stripped), then check the
    length of what will be stored."""
    if not isinstance(value, str):
        errors[name] = f"must be {bounds[0]} to {bounds[1]} characters"
        return None
    text = " ".join(value.split()) if name == "title" else value.strip()
    if not bounds[0] <= len(text) <= bounds[1]:
        errors[name] = f"must be {bounds[0]} to {bounds[1]} characters"
        return None
    return text


def validate_campaign(data: dict, rules: LobbyingRules) -> dict:
    errors = {}
    title = _length(data.get("title"), rules.title_length, "title", errors)
    pitch = _length(data.get("pitch"), rules.pitch_length, "pitch", errors)
    goal = data.get("goal")
    if not isinstance(goal, int) or isinstance(goal, bool) or not rules.min_goal <= goal <= rules.max_goal:
        errors["goal"] = f"must be a whole number from {rules.min_goal} to {rules.max_goal}"
    targets = data.get("target_actor_ids")
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t for t in targets):
        errors["target_actor_ids"] = "must list at least one public actor id"
    elif len(set(targets)) > rules.max_targets:
        errors["target_actor_ids"] = f"at most {rules.max_targets} targets"
    if errors:
        raise ValidationFailed(errors)
    return {"title": title, "pitch": pitch, "goal": goal, "target_actor_ids": list(dict.fromkeys(targets))}


def check_targets(proposal_country: str, requested: list[str], actors: list[dict]) -> None:
    """Every target exists and belongs to the proposal's country, or acts at European level."""
    known = {a["id"]: a for a in actors}
    missing = [t for t in requested if t not in known]
    if missing:
        raise ValidationFailed({"target_actor_ids": f"unknown public actor(s): {', '.join(missing)}"})
    wrong = [a for a in (known[t] for t in requested)
             if a.get("level") != "european" and a.get("country") != proposal_country]
    if wrong:
        names = ", ".join(f"{a['name']} ({a.get('country')})" for a in wrong)
        raise ValidationFailed({"target_actor_ids": f"not in {proposal_country} nor at European level: {names}"})


def require_citizen(caller: dict | None) -> str:
    if not caller or not caller.get("user_id"):
        raise Forbidden("login required")
    return caller["user_id"]


def require_official_for(caller: dict | None, target_actor_ids) -> str:
    """Only an official linked to one of the campaign's targets may respond for it."""
    user_id = require_citizen(caller)
    if "official" not in (caller.get("roles") or []) or not caller.get("actor_id"):
        raise Forbidden("only officials respond to campaigns")
    if caller["actor_id"] not in set(target_actor_ids):
        raise Forbidden("your public actor is not a target of this campaign")
    return user_id


def validate_response(data: dict, rules: LobbyingRules) -> dict:
    errors = {}
    stance = data.get("stance")
    if stance not in STANCES:
        errors["stance"] = f"must be one of {', '.join(STANCES)}"
    statement = _length(data.get("statement"), rules.statement_length, "statement", errors)
    if errors:
        raise ValidationFailed(errors)
    return {"stance": stance, "statement": statement}


def check_can_respond(current_stance: str | None, new_stance: str) -> None:
    """A commitment stands: once a target committed it cannot commit again (one commitment
    per target and campaign); other stances may be revised, including into a commitment."""
    if current_stance == "commit" and new_stance == "commit":
        raise Conflict("this actor already committed to the campaign")


def should_interpellate(target_state: str) -> bool:
    """Targets that have not responded yet are interpellated at each milestone."""
    return target_state != "responded"
