"""Who gets a lead: the first active rule whose conditions hold and whose strategy finds an owner
(or a pool) wins; a rule that finds nobody available (everyone departed or at the cap, no territory
for the lead's region, an inactive pool) lets the next rule try. With no rule left, the lead stays
as it is — a lead created without an owner then belongs to its creator.

One entry point for every way a lead arrives (page, API, web form, import): `assign_new_lead`
for one lead, `assign_leads` for a batch. Both plan a whole batch with a handful of queries
(rules, territories, open-lead counts, caps and rotation cursors are each read once) and write it
set-based. Rotation cursors are locked (SELECT … FOR UPDATE, ordered by key) before loads are read,
so concurrent arrivals take turns instead of picking the same user, and positions survive restarts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

from django.db import models, transaction
from django.db.models import Count, Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core import history
from core.choices import Action, HistoryAction, ObjectType, ShareAccess
from core.conditions import fields_of, predicate
from core.models import ChangeLog, RecordShare
from core.notify import notify
from core.permissions import forget_grants, user_is_usable
from leads.models import Lead

from .choices import NOTIFICATION_KIND, OPEN_LEAD_STATUSES, Distribution, Strategy
from .models import (
    AssignmentRule,
    LeadLimit,
    RotationCursor,
    RuleMember,
    Territory,
    TerritoryMember,
)

# Notes, labels and notifications kept as written and shown in the reader's language (core.history).
RULE_NOTE = history.message(gettext_noop("Assignment rule “%(rule)s”"), history.JOINS)
TERRITORY_NOTE = history.message(gettext_noop("territory “%(territory)s”"), history.JOINS)
CREATOR_KEEPS_SIGHT_NOTE = history.message(gettext_noop("The person who entered the lead keeps sight of it."))
NEW_LEAD_TITLE = history.message(gettext_noop("New lead for you: %(lead)s"))
ASSIGNED_BY_RULE = history.message(gettext_noop("Assigned by the rule “%(rule)s”."))
NEW_LEADS_TITLE = history.message(gettext_noop("%(count)d new leads for you"))
TEAM_LABEL = history.label(gettext_noop("Team"))


@dataclass
class Decision:
    """Where one lead goes: an owner or a pool, and the rule (and territory) that said so."""

    lead: Lead
    rule: AssignmentRule | None = None
    owner: object | None = None
    pool: object | None = None
    territory: Territory | None = None
    changed: bool = False

    @property
    def matched(self) -> bool:
        return self.rule is not None

    def as_dict(self) -> dict:
        return {
            "lead_id": self.lead.pk,
            "rule_id": self.rule.pk if self.rule else None,
            "rule_name": self.rule.name if self.rule else "",
            "territory_id": self.territory.pk if self.territory else None,
            "owner_id": self.owner.pk if self.owner else None,
            "pool_id": self.pool.pk if self.pool else None,
            "changed": self.changed,
        }


def active_rules() -> list[AssignmentRule]:
    members = Prefetch("memberships", queryset=RuleMember.objects.select_related("user"))
    return list(
        AssignmentRule.objects.filter(is_active=True)
        .select_related("pool")
        .prefetch_related(members)
        .order_by("order", "id")
    )


_UNSET = object()


class _Matched(list):
    """The rules that hold for a lead, shared by the leads with its signature, and the territory that
    signature's region falls in (its region codes are part of it), so it is looked up once."""

    territory = _UNSET


class _Planner:
    """Plans a batch in memory; the only queries are the batch-wide reads in `plan`."""

    def __init__(self, leads: list[Lead], rules: list[AssignmentRule]):
        self.leads = leads
        self.rules = rules
        self.load: dict[int, int] = defaultdict(int)
        self.caps: dict[int, int] = {}
        self.cursors: dict[str, RotationCursor] = {}
        self.dirty: set[str] = set()
        self._turns: dict[str, list] = {}  # cursor key → [index picked last or None, position, turns, team]
        self._territory_by_code: dict[str, Territory] | None = None
        self._teams: dict[int, list] = {}
        self._members: dict[int, list] = {}
        self._pools: dict[int, object] = {}
        self.tests = [(rule, predicate(rule.conditions or {"all": []}, ObjectType.LEAD)) for rule in rules]

    # --- territories --------------------------------------------------------------------

    def territory_for(self, lead: Lead) -> Territory | None:
        """The most specific active territory holding the lead's district, city or province."""
        if self._territory_by_code is None:
            territories = (
                Territory.objects.filter(is_active=True)
                .select_related("department")
                .prefetch_related(
                    Prefetch("memberships", queryset=TerritoryMember.objects.select_related("user")), "regions"
                )
            )
            self._territory_by_code = {r.code: t for t in territories for r in t.regions.all()}
        for code in (lead.district_code, lead.city_code, lead.province_code):
            if code and code in self._territory_by_code:
                return self._territory_by_code[code]
        return None

    def team_of(self, territory: Territory) -> list:
        if territory.id not in self._teams:
            team = territory.ordered_members()
            if not team and territory.department_id:
                from org.models import User

                team = list(
                    User.objects.filter(
                        is_active=True, department__path__startswith=territory.department.path
                    ).order_by("department__path", "username", "id")
                )
            self._teams[territory.pk] = team
        return self._teams[territory.pk]

    def members(self, rule: AssignmentRule) -> list:
        """The rule's users in their fixed order, read once per batch."""
        if rule.id not in self._members:
            self._members[rule.id] = rule.ordered_members()
        return self._members[rule.id]

    # --- planning -----------------------------------------------------------------------

    def signature(self):
        """A function giving the values the rules and territories read from a lead, or None when a rule
        reads something that is not a plain field (facts): leads with equal signatures match the same rules."""
        names: set[str] = set()
        for rule in self.rules:
            names |= fields_of(rule.conditions or {})
        if any(name.startswith("fact:") for name in names):
            return None
        names.discard("region")  # the region codes are always part of the signature (territories)
        attrs = (*sorted(names), "district_code", "city_code", "province_code")
        kinds = {type(lead) for lead in self.leads}
        getter_for = getattr(next(iter(kinds)), "getter_for", None) if len(kinds) == 1 else None
        direct = getter_for(attrs) if getter_for else None
        if direct is not None:  # rows of an import: their values are read straight from the row's tuple
            return direct
        fast = attrgetter(*attrs)  # a tuple, as at least the three region codes are read

        def signature(lead):
            try:
                return fast(lead)
            except AttributeError:  # a condition on something this kind of lead object lacks
                return tuple(getattr(lead, attr, None) for attr in attrs)

        return signature

    def candidates(self) -> tuple[list[list[AssignmentRule]], set[str], set[int]]:
        """Per lead the rules whose conditions hold; the cursors and users they may need. Conditions and
        territories are checked once per distinct signature, not once per lead."""
        matches: list[list[AssignmentRule]] = []
        keys: set[str] = set()
        users: set[int] = set()
        seen_rules: set[int] = set()
        seen_territories: set[int] = set()
        signature = self.signature()
        known: dict[tuple, list[AssignmentRule]] = {}
        for lead in self.leads:
            key = signature(lead) if signature is not None else None
            found = known.get(key) if key is not None else None
            if found is not None:
                matches.append(found)
                continue
            found = _Matched(rule for rule, holds in self.tests if holds(lead))
            if key is not None:
                known[key] = found
            matches.append(found)
            for rule in found:
                if rule.strategy == Strategy.TERRITORY:
                    territory = self.territory_for(lead)
                    if key is not None:
                        found.territory = territory
                    if territory is not None and territory.pk not in seen_territories:
                        seen_territories.add(territory.pk)
                        keys.add(territory.cursor_key)
                        users.update(u.pk for u in self.team_of(territory))
                    continue
                if rule.pk in seen_rules:
                    continue
                seen_rules.add(rule.pk)
                if rule.strategy in (Strategy.ROUND_ROBIN, Strategy.LEAST_LOADED):
                    keys.add(rule.cursor_key)
                users.update(u.pk for u in self.members(rule))
        return matches, keys, users

    def lock_cursors(self, keys: set[str]) -> None:
        if not keys:
            return
        ordered = sorted(keys)
        existing = set(RotationCursor.objects.filter(key__in=ordered).values_list("key", flat=True))
        missing = [RotationCursor(key=k) for k in ordered if k not in existing]
        if missing:
            RotationCursor.objects.bulk_create(missing, ignore_conflicts=True)
        # Locked in key order so two batches needing the same cursors never deadlock.
        rows = RotationCursor.objects.filter(key__in=ordered).order_by("key").select_for_update()
        self.cursors = {c.key: c for c in rows}

    def loads_matter(self, matches: list[list[AssignmentRule]]) -> bool:
        """Whether a rule that may place a lead of the batch weighs open leads: least-loaded (a territory
        too), or a cap. Counting every candidate's open leads reads all of them, so it is skipped otherwise."""
        distinct = {id(found): found for found in matches}.values()  # leads alike share one list
        for rule in {rule.id: rule for found in distinct for rule in found}.values():
            if rule.max_open_leads is not None or rule.strategy == Strategy.LEAST_LOADED:
                return True
            if rule.strategy == Strategy.TERRITORY:
                territories = (self._territory_by_code or {}).values()
                if any(t.distribution == Distribution.LEAST_LOADED for t in territories):
                    return True
        return False

    def read_caps(self, user_ids: set[int]) -> None:
        """Users' own caps (LeadLimit), which every rule applies."""
        if user_ids:
            self.caps = dict(LeadLimit.objects.filter(user_id__in=user_ids).values_list("user_id", "max_open_leads"))

    def read_loads(self, user_ids: set[int], *, counted: bool = True) -> None:
        """Open leads per candidate (when `counted`, or when a candidate has a cap of his own), read after
        the cursors are locked; the batch itself is being placed, so its leads do not count for their
        current owners."""
        if not user_ids or (not counted and not self.caps):
            return
        rows = (
            Lead.objects.filter(owner_id__in=user_ids, status__in=OPEN_LEAD_STATUSES)
            .values("owner_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in rows:
            self.load[row["owner_id"]] = row["n"]
        for lead in self.leads:
            if lead.pk and lead.owner_id in user_ids and lead.status in OPEN_LEAD_STATUSES:
                self.load[lead.owner_id] -= 1

    def available(self, user, rule_cap: int | None) -> bool:
        if user is None or not user.is_active:
            return False
        own = self.caps.get(user.id) if self.caps else None
        if own is None and rule_cap is None:
            return True
        cap = own if rule_cap is None else rule_cap if own is None else min(own, rule_cap)
        return self.load[user.id] < cap

    def rotate(self, key: str, team: list, rule_cap: int | None):
        """The next available user after the one picked last, in the team's fixed order. The turn is
        kept in `_turns` and written to the cursor once per batch."""
        turn = self._turns.get(key)
        if turn is None:
            cursor = self.cursors[key]
            ids = [u.pk for u in team]
            # never used (position -1), or the last picked user left the list: his successor moved up
            last = ids.index(cursor.last_user_id) if cursor.last_user_id in ids else None
            turn = self._turns[key] = [last, cursor.position, cursor.turns, team]
        start = turn[0] + 1 if turn[0] is not None else max(turn[1], 0)
        size = len(team)
        for step in range(size):
            index = (start + step) % size
            user = team[index]
            if self.available(user, rule_cap):
                turn[0] = turn[1] = index
                turn[2] += 1
                self.dirty.add(key)
                return user
        return None

    def least_loaded(self, team: list, rule_cap: int | None):
        ranked = [(self.load[u.pk], i, u) for i, u in enumerate(team) if self.available(u, rule_cap)]
        return min(ranked, key=lambda r: (r[0], r[1]))[2] if ranked else None

    def pool_of(self, rule: AssignmentRule):
        """The rule's pool when it can take leads now (asked once per rule and batch), else None."""
        if rule.id not in self._pools:
            pool = rule.pool
            usable = pool is not None and pool.is_active and pool.object_type == ObjectType.LEAD
            self._pools[rule.id] = pool if usable else None
        return self._pools[rule.id]

    def settled_pool(self, rules: list[AssignmentRule]):
        """(rule, pool) when the leads sharing `rules` all go to that rule's pool whatever the batch's
        state: it is the first rule able to place them, the rules before it being territory rules that
        found no territory for their signature. None when a rule before it depends on who is available."""
        for rule in rules:
            if rule.strategy == Strategy.POOL:
                pool = self.pool_of(rule)
                if pool is not None:
                    return rule, pool
            elif rule.strategy != Strategy.TERRITORY or getattr(rules, "territory", _UNSET) is not None:
                return None
        return None

    def decide(self, lead: Lead, rules: list[AssignmentRule]) -> Decision:
        for rule in rules:
            if rule.strategy == Strategy.POOL:
                pool = self.pool_of(rule)
                if pool is None:
                    continue
                return Decision(lead=lead, rule=rule, pool=pool)
            decision = Decision(lead=lead, rule=rule)
            cap = rule.max_open_leads
            if rule.strategy == Strategy.TERRITORY:
                territory = getattr(rules, "territory", _UNSET)
                if territory is _UNSET:
                    territory = self.territory_for(lead)
                if territory is None:
                    continue
                team = self.team_of(territory)
                decision.territory = territory
                if territory.distribution == Distribution.LEAST_LOADED:
                    owner = self.least_loaded(team, cap)
                else:
                    owner = self.rotate(territory.cursor_key, team, cap)
            elif rule.strategy == Strategy.ROUND_ROBIN:
                owner = self.rotate(rule.cursor_key, self.members(rule), cap)
            elif rule.strategy == Strategy.LEAST_LOADED:
                owner = self.least_loaded(self.members(rule), cap)
            else:  # named user(s): the first available in the list
                owner = next((u for u in self.members(rule) if self.available(u, cap)), None)
            if owner is None:
                continue
            decision.owner = owner
            if lead.status in OPEN_LEAD_STATUSES:
                self.load[owner.id] += 1
            return decision
        return Decision(lead=lead)

    def plan(self) -> list[Decision]:
        matches, keys, users = self.candidates()
        counted = self.loads_matter(matches)
        self.read_caps(users)
        if counted or self.caps:
            # Loads decide: batches that may give leads to the same users take turns on them (a row per
            # user, locked with the cursors, in one key order), so two arriving at once cannot both fill
            # a user's last free place, whatever the strategy.
            keys = keys | {f"load:{user_id}" for user_id in users}
        self.lock_cursors(keys)
        self.read_loads(users, counted=counted)
        settled: dict[int, tuple | None] = {}  # by id() of the rule lists leads with one signature share
        decisions = []
        for lead, rules in zip(self.leads, matches, strict=True):
            key = id(rules)
            if key not in settled:
                settled[key] = self.settled_pool(rules) if isinstance(rules, _Matched) else None
            found = settled[key]
            decisions.append(Decision(lead=lead, rule=found[0], pool=found[1]) if found else self.decide(lead, rules))
        now = timezone.now()
        for key in sorted(self.dirty):
            last, position, turns, team = self._turns[key]
            c = self.cursors[key]
            c.last_user_id, c.position, c.turns = team[last].pk, position, turns
            RotationCursor.objects.filter(pk=c.pk).update(
                last_user_id=c.last_user_id, position=position, turns=turns, updated_at=now
            )
        return decisions


def plan(leads: Iterable[Lead]) -> list[Decision]:
    """Decide where each lead goes without writing the leads (cursors do advance); run in a transaction."""
    leads = list(leads)
    rules = active_rules()
    if not leads or not rules:
        return [Decision(lead=lead) for lead in leads]
    return _Planner(leads, rules).plan()


def decision_note(decision: Decision) -> str:
    """The history note of a placement: the rule, and the territory when one decided."""
    return placement_note(decision.rule.name, decision.territory.name if decision.territory else "")


def placement_note(rule: str, territory: str = "") -> str:
    """The words for a placement by a rule (and territory), from their names."""
    note = _(RULE_NOTE) % {"rule": rule}
    if territory:
        note += " · " + _(TERRITORY_NOTE) % {"territory": territory}
    return note


def _apply(decisions: list[Decision], actor) -> list[Decision]:
    """Write the planned owners and pools set-based, with a history entry per lead."""
    from org.models import User
    from pools.models import Pool

    moving = []
    for d in decisions:
        if not d.matched:
            continue
        new = (d.owner.pk if d.owner else None, d.pool.pk if d.pool else None)
        if new != (d.lead.owner_id, d.lead.pool_id):
            d.changed = True
            moving.append(d)
    if not moving:
        return decisions
    now = timezone.now()
    old_users = User.objects.in_bulk({d.lead.owner_id for d in moving if d.lead.owner_id})
    old_pools = Pool.objects.in_bulk({d.lead.pool_id for d in moving if d.lead.pool_id})
    owner_label = str(Lead._meta.get_field("owner").verbose_name)
    pool_label = str(Lead._meta.get_field("pool").verbose_name)
    groups: dict[tuple, list[int]] = defaultdict(list)
    entries = []
    for d in moving:
        lead = d.lead
        groups[(d.owner.pk if d.owner else None, d.pool.pk if d.pool else None)].append(lead.pk)
        old_owner = str(old_users.get(lead.owner_id, "")) if lead.owner_id else ""
        changes = [{"field": "owner", "label": owner_label, "old": old_owner, "new": str(d.owner or "")}]
        if (d.pool.pk if d.pool else None) != lead.pool_id:
            old_pool = str(old_pools.get(lead.pool_id, "")) if lead.pool_id else ""
            changes.append({"field": "pool", "label": pool_label, "old": old_pool, "new": str(d.pool or "")})
        entries.append(
            ChangeLog(
                object_type=ObjectType.LEAD,
                object_id=lead.pk,
                object_repr=str(lead)[:300],
                action=HistoryAction.TRANSFER,
                actor=actor if getattr(actor, "pk", None) else None,
                at=now,
                changes=changes,
                note=decision_note(d)[:500],
            )
        )
    for (owner_id, pool_id), ids in groups.items():
        values = {
            "owner_id": owner_id,
            "pool_id": pool_id,
            "owner_since": now if owner_id else None,
            "pool_entered_at": now if pool_id else None,
        }
        for start in range(0, len(ids), 500):
            Lead.all_objects.filter(pk__in=ids[start : start + 500]).update(
                version=models.F("version") + 1, updated_at=now, **values
            )
    ChangeLog.objects.bulk_create(entries, batch_size=1000)
    for d in moving:  # the caller's instances show the outcome
        lead = d.lead
        lead.owner = d.owner
        lead.pool = d.pool
        lead.owner_since = now if d.owner else None
        lead.pool_entered_at = now if d.pool else None
        lead.version += 1
        lead.updated_at = now
    notify_assignees(moving, actor)
    return decisions


def notify_assignees(moving: list[Decision], actor) -> None:
    """One in-app message per new owner for a batch (one lead named, or how many), never to the actor."""
    by_owner: dict[int, list[Decision]] = defaultdict(list)
    actor_id = getattr(actor, "pk", None)
    for d in moving:  # an import's batch: up to 100,000 decisions, hence .id rather than the .pk property
        if d.owner is not None and d.owner.id != actor_id:
            by_owner[d.owner.id].append(d)
    for group in by_owner.values():
        owner = group[0].owner
        if len(group) == 1:
            lead = group[0].lead
            notify(
                users=[owner],
                kind=NOTIFICATION_KIND,
                title=_(NEW_LEAD_TITLE) % {"lead": lead},
                body=_(ASSIGNED_BY_RULE) % {"rule": group[0].rule.name},
                url=lead.get_absolute_url(),
            )
        else:
            notify(
                users=[owner],
                kind=NOTIFICATION_KIND,
                title=_(NEW_LEADS_TITLE) % {"count": len(group)},
                body=", ".join(str(d.lead) for d in group[:5]) + ("…" if len(group) > 5 else ""),
                url=f"{reverse('leads:list')}?owner={owner.pk}",
            )


@transaction.atomic
def assign_leads(*, leads: Iterable[Lead], actor) -> list[Decision]:
    """Run the rules on a batch (imports, a re-run on a selection) and write the outcome.

    Leads no rule places are left as they are. Returns one Decision per lead, in order."""
    leads = [lead for lead in leads if lead.pk]
    return _apply(plan(leads), actor)


@transaction.atomic
def assign_new_lead(*, lead: Lead, actor) -> Decision:
    """Run the rules on a lead that just arrived without an owner.

    When the rules hand the lead to someone else and its creator could no longer see it, the
    creator stays on its team with view access, so the lead he entered does not vanish."""
    decision = assign_leads(leads=[lead], actor=actor)[0]
    if (
        decision.changed
        and user_is_usable(actor)
        and not Lead.objects.visible_to(actor, Action.VIEW).filter(pk=lead.pk).exists()
    ):
        _share, created = RecordShare.objects.get_or_create(
            object_type=ObjectType.LEAD,
            object_id=lead.pk,
            user=actor,
            defaults={"access": ShareAccess.VIEW, "created_by": actor},
        )
        forget_grants(actor)  # his cached grants may know of no lead shared with him
        if created:
            history.write(
                instance=lead,
                action=HistoryAction.SHARE,
                actor=actor,
                changes=[
                    {"field": "team", "label": _(TEAM_LABEL), "old": "", "new": f"{actor} ({ShareAccess.VIEW.label})"}
                ],
                note=_(CREATOR_KEEPS_SIGHT_NOTE),
            )
    return decision
