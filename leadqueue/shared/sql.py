"""The PostgreSQL-only objects ``admin init`` installs, as SQL text.

Owns: group roles' privileges, row-level security policies, the helper and
write functions (``SECURITY DEFINER`` with a pinned ``search_path``), the
notify triggers and the lease-history exclusion constraint. Alembic owns the
tables; this module owns who may touch them and how.

Identity is always ``session_user`` (the person's own login role) mapped to
``users.db_role``: ``SET ROLE`` changes ``current_user`` only, so it can never
change whose rows a query sees. Helper functions are called as
``(SELECT lq_me())`` so the planner evaluates them once per query (an
initplan), not once per row.

Why FORCE plus an owner policy: the write functions run as the owner role;
with FORCE ROW LEVEL SECURITY the owner is subject to policies too, so the
owner gets one explicit ``USING (true)`` policy and everything it can do is
visible in ``pg_policy`` rather than implied by ownership.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Lead columns only the write functions (or an admin) may change: ownership,
#: assignment, status, routing and lifecycle, and what the rule engine decides
#: (priority, score and its breakdown, when it last scored: DESIGN.md §5 rule 4,
#: the server decides priority). Reps and team leads get UPDATE on every other
#: column (column privileges), so a direct UPDATE of these is refused with
#: "permission denied". The engine runs as the worker's admin login (or the
#: owner); no client action changes these columns on an existing lead. A lead
#: typed in by hand starts with the priority its creator chose, and its INSERT
#: must leave ``scored_at`` empty, so the engine's next pass scores it (and may
#: move its priority) whatever score the client sent.
PROTECTED_LEAD_COLUMNS = frozenset({
    "id", "owner_id", "team_id", "status", "assigned_at", "routing_explanation",
    "merged_into_id", "deleted_at", "server_seq", "sla_due_at", "account_id", "created_at",
    "priority", "score", "score_breakdown", "scored_at",
})

#: Columns of their own users row a rep or team lead may change.
SELF_USER_COLUMNS = ("available", "timezone", "quiet_hours_start", "quiet_hours_end",
                     "last_seen_at", "out_of_office_until", "updated_at", "version")

#: Column UPDATE privileges for reps and team leads, per table: None means
#: "every column but PROTECTED_LEAD_COLUMNS" (leads only). The row policies
#: still decide which rows; these decide which columns. Notifications: the
#: recipient marks one seen or snoozes it (``schedule.mark_seen``/``snooze``),
#: nothing else on the row (title, level, recipient stay the worker's).
CLIENT_UPDATE_COLUMNS: dict[str, tuple[str, ...] | None] = {
    "leads": None,
    "users": SELF_USER_COLUMNS,
    "notifications": ("seen_at", "snoozed_until", "updated_at", "version"),
}

ME = "(SELECT lq_me())"
TEAM = "(SELECT lq_my_team())"
ROLE = "(SELECT lq_my_role())"
IS_ADMIN = f"{ROLE} = 'admin'"
IS_LEAD = f"{ROLE} = 'team_lead'"


@dataclass(frozen=True)
class Roles:
    """The group roles of one installation (names carry a configurable prefix,
    because roles are cluster-wide and several installations or test runs may
    share one server)."""

    prefix: str

    @property
    def owner(self) -> str:
        return f"{self.prefix}owner"

    @property
    def rep(self) -> str:
        return f"{self.prefix}rep"

    @property
    def team_lead(self) -> str:
        return f"{self.prefix}team_lead"

    @property
    def admin(self) -> str:
        return f"{self.prefix}admin"

    @property
    def intake(self) -> str:
        return f"{self.prefix}intake"

    def group_for(self, role: str) -> str:
        return {"rep": self.rep, "team_lead": self.team_lead, "admin": self.admin}[role]

    @property
    def clients(self) -> tuple[str, str, str]:
        return (self.rep, self.team_lead, self.admin)

    @property
    def all_groups(self) -> tuple[str, ...]:
        return (self.owner, self.rep, self.team_lead, self.admin, self.intake)


@dataclass(frozen=True)
class Policy:
    table: str
    name: str
    command: str  # SELECT / INSERT / UPDATE / DELETE / ALL
    using: str | None
    check: str | None = None
    #: "clients" (rep, team lead, admin), or one group attribute name.
    to: str = "clients"


#: A team lead's own team's row of a rule table (SLA policies, cadences).
_OWN_TEAM_RULE = f"{IS_LEAD} AND team_id = {TEAM}"
#: A cadence step of a cadence that belongs to the team lead's own team (the
#: subquery runs under the caller's RLS on cadences).
_OWN_TEAM_STEP = (f"{IS_LEAD} AND EXISTS (SELECT 1 FROM cadences c "
                  f"WHERE c.id = cadence_steps.cadence_id AND c.team_id = {TEAM})")


def _lead_visible(alias_col: str) -> str:
    # Subqueries inside a policy run under the caller's RLS on leads, so
    # "this lead is visible to me" is simply "it exists for me".
    return f"EXISTS (SELECT 1 FROM leads l WHERE l.id = {alias_col})"


def _lead_worked_by_me(alias_col: str) -> str:
    # Leads the caller works: their own, or (a team lead) their team's. A pool
    # lead is visible to the whole team but worked only after a claim, so
    # nobody logs calls on it or changes its cadence before claiming it.
    return (f"EXISTS (SELECT 1 FROM leads l WHERE l.id = {alias_col} "
            f"AND (l.owner_id = {ME} OR ({IS_LEAD} AND l.team_id = {TEAM})))")


POLICIES: tuple[Policy, ...] = (
    # leads
    Policy("leads", "lq_leads_read", "SELECT",
           f"{IS_ADMIN} OR owner_id = {ME} "
           f"OR (team_id = {TEAM} AND ({IS_LEAD} OR owner_id IS NULL))"),
    # scored_at empty: the rule engine scores every lead a client types in
    Policy("leads", "lq_leads_insert", "INSERT", None,
           f"{IS_ADMIN} OR (team_id = {TEAM} AND ({IS_LEAD} OR owner_id = {ME}) "
           "AND scored_at IS NULL)"),
    Policy("leads", "lq_leads_update", "UPDATE",
           f"{IS_ADMIN} OR owner_id = {ME} OR ({IS_LEAD} AND team_id = {TEAM})",
           f"{IS_ADMIN} OR owner_id = {ME} OR ({IS_LEAD} AND team_id = {TEAM})"),
    Policy("leads", "lq_leads_delete", "DELETE", IS_ADMIN),
    # activities: append-only, visible with their lead
    Policy("activities", "lq_activities_read", "SELECT", _lead_visible("activities.lead_id")),
    Policy("activities", "lq_activities_insert", "INSERT", None,
           f"{IS_ADMIN} OR (author_id = {ME} "
           f"AND {_lead_worked_by_me('activities.lead_id')})"),
    # users
    Policy("users", "lq_users_read", "SELECT", f"{IS_ADMIN} OR id = {ME} OR team_id = {TEAM}"),
    Policy("users", "lq_users_update", "UPDATE", f"{IS_ADMIN} OR id = {ME}",
           f"{IS_ADMIN} OR id = {ME}"),
    Policy("users", "lq_users_admin_write", "INSERT", None, IS_ADMIN),
    Policy("users", "lq_users_admin_delete", "DELETE", IS_ADMIN),
    # teams
    Policy("teams", "lq_teams_read", "SELECT", f"{IS_ADMIN} OR id = {TEAM}"),
    Policy("teams", "lq_teams_admin", "ALL", IS_ADMIN, IS_ADMIN),
    # accounts
    Policy("accounts", "lq_accounts_read", "SELECT",
           f"{IS_ADMIN} OR team_id = {TEAM} OR owner_id = {ME}"),
    Policy("accounts", "lq_accounts_admin", "ALL", IS_ADMIN, IS_ADMIN),
    # configuration (the rule book): reps read; a team lead also writes their
    # own team's SLA overrides and cadences (with their steps), as the rule
    # book lets them (Workspace.save_sla_policy / save_cadence); rows shared by
    # every team (team NULL), another team's, templates (no team) and routing
    # rules are the admin's. Routing rules stay admin-only for writes even
    # with a team: a team's rule also routes new leads that have no team yet
    # (rules.routing), so a team lead's rule could pull every new lead into
    # their own team. No DELETE for team leads: the rule book tombstones.
    Policy("sla_policies", "lq_sla_policies_read", "SELECT",
           f"team_id IS NULL OR team_id = {TEAM} OR {IS_ADMIN}"),
    Policy("sla_policies", "lq_sla_policies_admin", "ALL", IS_ADMIN, IS_ADMIN),
    Policy("sla_policies", "lq_sla_policies_team_insert", "INSERT", None, _OWN_TEAM_RULE,
           to="team_lead"),
    Policy("sla_policies", "lq_sla_policies_team_update", "UPDATE", _OWN_TEAM_RULE,
           _OWN_TEAM_RULE, to="team_lead"),
    Policy("routing_rules", "lq_routing_rules_read", "SELECT",
           f"team_id IS NULL OR team_id = {TEAM} OR {IS_ADMIN}"),
    Policy("routing_rules", "lq_routing_rules_admin", "ALL", IS_ADMIN, IS_ADMIN),
    Policy("cadences", "lq_cadences_read", "SELECT",
           f"team_id IS NULL OR team_id = {TEAM} OR {IS_ADMIN}"),
    Policy("cadences", "lq_cadences_admin", "ALL", IS_ADMIN, IS_ADMIN),
    Policy("cadences", "lq_cadences_team_insert", "INSERT", None, _OWN_TEAM_RULE,
           to="team_lead"),
    Policy("cadences", "lq_cadences_team_update", "UPDATE", _OWN_TEAM_RULE, _OWN_TEAM_RULE,
           to="team_lead"),
    Policy("cadence_steps", "lq_cadence_steps_read", "SELECT", "true"),
    Policy("cadence_steps", "lq_cadence_steps_admin", "ALL", IS_ADMIN, IS_ADMIN),
    Policy("cadence_steps", "lq_cadence_steps_team_insert", "INSERT", None, _OWN_TEAM_STEP,
           to="team_lead"),
    Policy("cadence_steps", "lq_cadence_steps_team_update", "UPDATE", _OWN_TEAM_STEP,
           _OWN_TEAM_STEP, to="team_lead"),
    Policy("templates", "lq_templates_read", "SELECT", "true"),
    Policy("templates", "lq_templates_admin", "ALL", IS_ADMIN, IS_ADMIN),
    Policy("cadence_enrollments", "lq_cadence_enrollments_read", "SELECT",
           _lead_visible("cadence_enrollments.lead_id")),
    Policy("cadence_enrollments", "lq_cadence_enrollments_insert", "INSERT", None,
           f"{IS_ADMIN} OR {_lead_worked_by_me('cadence_enrollments.lead_id')}"),
    Policy("cadence_enrollments", "lq_cadence_enrollments_update", "UPDATE",
           f"{IS_ADMIN} OR {_lead_worked_by_me('cadence_enrollments.lead_id')}",
           f"{IS_ADMIN} OR {_lead_worked_by_me('cadence_enrollments.lead_id')}"),
    Policy("cadence_enrollments", "lq_cadence_enrollments_delete", "DELETE", IS_ADMIN),
    # worker state
    # a team lead sees the counters of their own team's members only
    Policy("routing_state", "lq_routing_state_read", "SELECT",
           f"{IS_ADMIN} OR ({IS_LEAD} AND EXISTS (SELECT 1 FROM users u "
           f"WHERE u.id = routing_state.user_id AND u.team_id = {TEAM}))"),
    Policy("routing_state", "lq_routing_state_admin", "ALL", IS_ADMIN, IS_ADMIN),
    # The notification schedule (``leadqueue.schedule``) reads which stages
    # already fired for the person's leads: everyone reads the firings of the
    # leads they can see (a rep: their own and their team's pool; a team
    # lead: their team's), through the lead policy (rule_firings.lead_id is
    # indexed). Firings carry lead ids, stage keys and times, nothing more.
    Policy("rule_firings", "lq_rule_firings_read", "SELECT",
           f"{IS_ADMIN} OR {_lead_visible('rule_firings.lead_id')}"),
    Policy("rule_firings", "lq_rule_firings_admin", "ALL", IS_ADMIN, IS_ADMIN),
    Policy("notifications", "lq_notifications_read", "SELECT",
           f"{IS_ADMIN} OR recipient_id = {ME}"),
    Policy("notifications", "lq_notifications_seen", "UPDATE",
           f"{IS_ADMIN} OR recipient_id = {ME}", f"{IS_ADMIN} OR recipient_id = {ME}"),
    Policy("notifications", "lq_notifications_admin", "INSERT", None, IS_ADMIN),
    Policy("lead_leases", "lq_lead_leases_read", "SELECT",
           f"{IS_ADMIN} OR holder_id = {ME} "
           f"OR ({IS_LEAD} AND {_lead_visible('lead_leases.lead_id')})"),
    # audit log: everyone appends as themselves; team leads read their team's
    Policy("audit_log", "lq_audit_log_append", "INSERT", None,
           f"{IS_ADMIN} OR actor_id = {ME}"),
    Policy("audit_log", "lq_audit_log_read", "SELECT",
           f"{IS_ADMIN} OR ({IS_LEAD} AND EXISTS (SELECT 1 FROM users u "
           f"WHERE u.id = audit_log.actor_id AND u.team_id = {TEAM}))"),
    # intake: other systems append; the worker (admin) processes
    Policy("intake", "lq_intake_admin", "ALL", IS_ADMIN, IS_ADMIN),
    Policy("intake", "lq_intake_append", "INSERT", None, "processed_at IS NULL", to="intake"),
)

#: Table privileges per group (column privileges are added for leads/users).
#: Tables not listed here (added later by other features) get admin-only
#: access until someone gives them policies: secure by default.
GRANTS: dict[str, dict[str, str]] = {
    "leads": {"rep": "SELECT, INSERT", "team_lead": "SELECT, INSERT",
              "admin": "SELECT, INSERT, UPDATE, DELETE"},
    "activities": {"rep": "SELECT, INSERT", "team_lead": "SELECT, INSERT",
                   "admin": "SELECT, INSERT"},
    "users": {"rep": "SELECT", "team_lead": "SELECT", "admin": "SELECT, INSERT, UPDATE, DELETE"},
    "teams": {"rep": "SELECT", "team_lead": "SELECT", "admin": "SELECT, INSERT, UPDATE, DELETE"},
    "accounts": {"rep": "SELECT", "team_lead": "SELECT", "admin": "SELECT, INSERT, UPDATE, DELETE"},
    # team leads: their own team's rows only (the policies above)
    "sla_policies": {"rep": "SELECT", "team_lead": "SELECT, INSERT, UPDATE",
                     "admin": "SELECT, INSERT, UPDATE, DELETE"},
    "routing_rules": {"rep": "SELECT", "team_lead": "SELECT",
                      "admin": "SELECT, INSERT, UPDATE, DELETE"},
    "cadences": {"rep": "SELECT", "team_lead": "SELECT, INSERT, UPDATE",
                 "admin": "SELECT, INSERT, UPDATE, DELETE"},
    "cadence_steps": {"rep": "SELECT", "team_lead": "SELECT, INSERT, UPDATE",
                      "admin": "SELECT, INSERT, UPDATE, DELETE"},
    "templates": {"rep": "SELECT", "team_lead": "SELECT",
                  "admin": "SELECT, INSERT, UPDATE, DELETE"},
    "cadence_enrollments": {"rep": "SELECT, INSERT, UPDATE", "team_lead": "SELECT, INSERT, UPDATE",
                            "admin": "SELECT, INSERT, UPDATE, DELETE"},
    "routing_state": {"team_lead": "SELECT", "admin": "SELECT, INSERT, UPDATE, DELETE"},
    "rule_firings": {"rep": "SELECT", "team_lead": "SELECT",
                     "admin": "SELECT, INSERT, UPDATE, DELETE"},
    "notifications": {"rep": "SELECT", "team_lead": "SELECT", "admin": "SELECT, INSERT, UPDATE"},
    "lead_leases": {"rep": "SELECT", "team_lead": "SELECT", "admin": "SELECT"},
    # insert-only for every client role: no UPDATE or DELETE, not even for admins
    "audit_log": {"rep": "INSERT", "team_lead": "SELECT, INSERT", "admin": "SELECT, INSERT"},
    # other systems append a payload; what the worker fills in is not theirs
    "intake": {"admin": "SELECT, INSERT, UPDATE",
               "intake": "INSERT (id, received_at, source_system, payload)"},
    "alembic_version": {"rep": "SELECT", "team_lead": "SELECT", "admin": "SELECT",
                        "intake": "SELECT"},
}


def helper_functions(schema: str, prefix: str) -> list[str]:
    """Identity helpers, clock, ids: installed with CREATE OR REPLACE (keeps oids)."""
    sp = f"SET search_path = {schema}, pg_temp"
    return [
        f"""CREATE OR REPLACE FUNCTION lq_role_prefix() RETURNS text
LANGUAGE sql IMMUTABLE {sp} AS $$ SELECT '{prefix}'::text $$""",
        # The database's "now": tests replace this function with a fixed instant
        # driven by their FakeClock; in production it is the transaction time.
        f"""CREATE OR REPLACE FUNCTION lq_now() RETURNS timestamptz
LANGUAGE sql STABLE {sp} AS $$ SELECT now() $$""",
        f"""CREATE OR REPLACE FUNCTION lq_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE {sp} AS $$
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
    substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
    FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid $$""",
        f"""CREATE OR REPLACE FUNCTION lq_me() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER {sp} AS $$
  SELECT id FROM users
   WHERE db_role = session_user::text AND NOT disabled AND deleted_at IS NULL $$""",
        f"""CREATE OR REPLACE FUNCTION lq_my_team() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER {sp} AS $$
  SELECT team_id FROM users
   WHERE db_role = session_user::text AND NOT disabled AND deleted_at IS NULL $$""",
        f"""CREATE OR REPLACE FUNCTION lq_my_role() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER {sp} AS $$
  SELECT role::text FROM users
   WHERE db_role = session_user::text AND NOT disabled AND deleted_at IS NULL $$""",
        f"""CREATE OR REPLACE FUNCTION lq_rep_channel(p_user uuid) RETURNS text
LANGUAGE sql IMMUTABLE {sp} AS $$ SELECT 'lq_rep_' || replace(p_user::text, '-', '') $$""",
        f"""CREATE OR REPLACE FUNCTION lq_team_channel(p_team uuid) RETURNS text
LANGUAGE sql IMMUTABLE {sp} AS $$ SELECT 'lq_team_' || replace(p_team::text, '-', '') $$""",
    ]


# Error codes the client maps to messages (leadqueue.shared.claims):
#   LQ403 not allowed for this caller, LQ404 no such lead (or not visible),
#   LQ409 stale lease epoch (fencing).
def write_functions(schema: str) -> list[str]:
    sp = f"SET search_path = {schema}, pg_temp"
    caller = """
  SELECT u.id, u.team_id, u.role::text INTO v_me, v_team, v_role FROM users u
   WHERE u.db_role = session_user::text AND NOT u.disabled AND u.deleted_at IS NULL;
  IF v_me IS NULL THEN
    RAISE EXCEPTION 'database role % is not an active LeadQueue user', session_user
      USING ERRCODE = 'LQ403';
  END IF;"""
    decl = "v_me uuid; v_team uuid; v_role text; v_now timestamptz := lq_now();"
    return [
        # The notify trigger: ids only (NOTIFY bypasses RLS, so no lead data).
        f"""CREATE OR REPLACE FUNCTION lq_leads_notify() RETURNS trigger
LANGUAGE plpgsql {sp} AS $$
DECLARE v_event text := coalesce(nullif(current_setting('leadqueue.event', true), ''), 'assigned');
BEGIN
  IF NEW.owner_id IS NOT NULL THEN
    PERFORM pg_notify(lq_rep_channel(NEW.owner_id),
      json_build_object('lead_id', NEW.id, 'event', v_event)::text);
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.owner_id IS NOT NULL THEN
    PERFORM pg_notify(lq_rep_channel(OLD.owner_id),
      json_build_object('lead_id', NEW.id, 'event', 'unassigned')::text);
  END IF;
  IF NEW.owner_id IS NULL AND NEW.team_id IS NOT NULL THEN
    -- one identical payload per transaction: PostgreSQL folds duplicates
    PERFORM pg_notify(lq_team_channel(NEW.team_id), '{{"event": "pool"}}');
  END IF;
  RETURN NULL;
END $$""",
        # No work that is not needed on the hot path: the caller and their
        # team's lease length in one lookup, the pick and the ownership write in
        # one UPDATE ... WHERE id = (... SKIP LOCKED), then the lease. Expired
        # leases are returned to the pool by the worker (lq_expire_leases) and,
        # when the pool looks empty, here first, so a dead claimer's lead comes
        # back even with no worker running.
        f"""CREATE OR REPLACE FUNCTION lq_claim_next()
RETURNS TABLE (lead_id uuid, epoch bigint, leased_at timestamptz, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER {sp} AS $$
#variable_conflict use_column
DECLARE v_me uuid; v_team uuid; v_minutes int; v_now timestamptz := lq_now(); v_lead uuid;
        v_epoch bigint; v_until timestamptz; v_round int;
BEGIN
  SELECT u.id, u.team_id, t.lease_minutes INTO v_me, v_team, v_minutes
    FROM users u LEFT JOIN teams t ON t.id = u.team_id
   WHERE u.db_role = session_user::text AND NOT u.disabled AND u.deleted_at IS NULL;
  IF v_me IS NULL THEN
    RAISE EXCEPTION 'database role % is not an active LeadQueue user', session_user
      USING ERRCODE = 'LQ403';
  END IF;
  IF v_team IS NULL THEN
    RAISE EXCEPTION 'user % has no team, so no pool to claim from', v_me USING ERRCODE = 'LQ403';
  END IF;
  v_until := v_now + make_interval(mins => v_minutes);
  PERFORM set_config('leadqueue.event', 'claimed', true);
  FOR v_round IN 1..2 LOOP
    UPDATE leads SET owner_id = v_me, assigned_at = v_now, updated_at = v_now,
           version = version + 1
     WHERE id = (SELECT l.id FROM leads l
                  WHERE l.team_id = v_team AND l.owner_id IS NULL
                    AND l.status IN ('new', 'working')
                    AND l.deleted_at IS NULL AND l.merged_into_id IS NULL
                  ORDER BY l.priority, l.sla_due_at, l.score DESC, l.created_at
                  LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING id INTO v_lead;
    EXIT WHEN v_lead IS NOT NULL OR v_round = 2;
    -- nothing free: return this team's expired claims to the pool, look once more
    EXIT WHEN lq_expire_leases_for(v_team, 16) = 0;
  END LOOP;
  PERFORM set_config('leadqueue.event', '', true);
  IF v_lead IS NULL THEN
    RETURN;
  END IF;
  v_epoch := nextval('lq_lease_epoch');
  INSERT INTO lead_leases (id, lead_id, holder_id, epoch, leased_at, expires_at, travel)
  VALUES (lq_uuid7(), v_lead, v_me, v_epoch, v_now, v_until, false);
  RETURN QUERY SELECT v_lead, v_epoch, v_now, v_until;
END $$""",
        # The current lease of a lead for the caller, or an error naming why not.
        f"""CREATE OR REPLACE FUNCTION lq_check_lease(p_lead uuid, p_epoch bigint, p_me uuid,
    p_now timestamptz) RETURNS lead_leases
LANGUAGE plpgsql {sp} AS $$
DECLARE v_lease lead_leases;
BEGIN
  SELECT * INTO v_lease FROM lead_leases
   WHERE lead_id = p_lead AND released_at IS NULL ORDER BY epoch DESC LIMIT 1 FOR UPDATE;
  IF v_lease.id IS NULL OR v_lease.epoch <> p_epoch OR v_lease.expires_at <= p_now THEN
    RAISE EXCEPTION 'stale lease: lead % is not held under epoch % any more', p_lead, p_epoch
      USING ERRCODE = 'LQ409';
  END IF;
  IF v_lease.holder_id <> p_me THEN
    RAISE EXCEPTION 'lead % is held by someone else', p_lead USING ERRCODE = 'LQ403';
  END IF;
  RETURN v_lease;
END $$""",
        f"""CREATE OR REPLACE FUNCTION lq_renew(p_lead uuid, p_epoch bigint) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SECURITY DEFINER {sp} AS $$
DECLARE {decl} v_lease lead_leases; v_until timestamptz;
BEGIN
  {caller}
  v_lease := lq_check_lease(p_lead, p_epoch, v_me, v_now);
  SELECT v_now + make_interval(mins => t.lease_minutes) INTO v_until
    FROM leads l JOIN teams t ON t.id = l.team_id WHERE l.id = p_lead;
  UPDATE lead_leases SET expires_at = greatest(expires_at, v_until) WHERE id = v_lease.id
  RETURNING expires_at INTO v_until;
  RETURN v_until;
END $$""",
        f"""CREATE OR REPLACE FUNCTION lq_release(p_lead uuid, p_epoch bigint) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER {sp} AS $$
DECLARE {decl} v_lease lead_leases;
BEGIN
  {caller}
  v_lease := lq_check_lease(p_lead, p_epoch, v_me, v_now);
  UPDATE lead_leases SET released_at = greatest(v_now, leased_at) WHERE id = v_lease.id;
  PERFORM set_config('leadqueue.event', 'released', true);
  UPDATE leads SET owner_id = NULL, assigned_at = NULL, updated_at = v_now, version = version + 1
   WHERE id = p_lead AND owner_id = v_me;
  PERFORM set_config('leadqueue.event', '', true);
END $$""",
        # Expired leases end; a lead its holder never acted on returns to the
        # pool, one acted on stays with the holder (the lease did its job). Only
        # a still-active lead (new or working, not deleted or merged) returns:
        # one the holder closed (disqualified, a meeting booked, …) without a
        # logged first action keeps its owner, so a closed lead never sits in
        # the pool ownerless. p_team NULL: every team; p_limit NULL: all of
        # them. Claims call it for their own team first, so a dead claimer's
        # lead is back without a worker.
        f"""CREATE OR REPLACE FUNCTION lq_expire_leases_for(p_team uuid, p_limit integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE {sp} AS $$
DECLARE v_now timestamptz := lq_now(); v_count integer;
BEGIN
  WITH due AS (
    SELECT ll.id FROM lead_leases ll
     WHERE ll.released_at IS NULL AND ll.expires_at <= v_now
       AND (p_team IS NULL OR EXISTS (
            SELECT 1 FROM leads l WHERE l.id = ll.lead_id AND l.team_id = p_team))
     ORDER BY ll.expires_at LIMIT p_limit
     FOR UPDATE OF ll SKIP LOCKED
  ), ended AS (
    UPDATE lead_leases ll SET released_at = ll.expires_at FROM due WHERE ll.id = due.id
    RETURNING ll.lead_id, ll.holder_id, ll.leased_at
  ), returned AS (
    UPDATE leads l SET owner_id = NULL, assigned_at = NULL, updated_at = v_now,
           version = l.version + 1
      FROM ended e
     WHERE l.id = e.lead_id AND l.owner_id = e.holder_id
       AND l.status IN ('new', 'working')
       AND l.deleted_at IS NULL AND l.merged_into_id IS NULL
       AND (l.first_action_at IS NULL OR l.first_action_at < e.leased_at)
    RETURNING l.id, e.holder_id
  ), audited AS (
    INSERT INTO audit_log (id, at, actor, rule, entity, entity_id, change, reason)
    SELECT lq_uuid7(), v_now, 'worker', 'lease_expiry', 'lead', r.id,
           jsonb_build_object('owner_id', jsonb_build_array(r.holder_id, NULL)),
           'lease expired without a first action' FROM returned r
    RETURNING 1
  )
  SELECT count(*) INTO v_count FROM audited;
  RETURN v_count;
END $$""",
        f"""CREATE OR REPLACE FUNCTION lq_expire_leases() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER {sp} AS $$
BEGIN
  RETURN lq_expire_leases_for(NULL, NULL);
END $$""",
        # Wakes the worker when another system hands in a lead (no payload).
        f"""CREATE OR REPLACE FUNCTION lq_intake_notify() RETURNS trigger
LANGUAGE plpgsql {sp} AS $$
BEGIN
  PERFORM pg_notify('lq_intake', '');
  RETURN NULL;
END $$""",
        # The reason goes with the assignment onto the lead, in the shape of a
        # routing explanation ({"method": "reassign", "by", "reason", ...}):
        # the new owner reads why without reading the audit log (which reps
        # may not). "previous" keeps how the lead came in before (one level).
        f"""CREATE OR REPLACE FUNCTION lq_reassign(p_lead uuid, p_new_owner uuid, p_reason text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER {sp} AS $$
DECLARE {decl} v_lead leads; v_target users; v_my_name text; v_why jsonb;
BEGIN
  {caller}
  SELECT name INTO v_my_name FROM users WHERE id = v_me;
  SELECT * INTO v_lead FROM leads WHERE id = p_lead FOR UPDATE;
  IF v_lead.id IS NULL THEN
    RAISE EXCEPTION 'no lead %', p_lead USING ERRCODE = 'LQ404';
  END IF;
  -- coalesce: a NULL comparison (lead without a team) must refuse, not pass
  IF NOT coalesce(v_role = 'admin'
                  OR (v_role = 'team_lead' AND v_lead.team_id = v_team), false) THEN
    RAISE EXCEPTION 'only the team lead of the lead''s team or an admin may reassign it'
      USING ERRCODE = 'LQ403';
  END IF;
  IF p_new_owner IS NOT NULL THEN
    SELECT * INTO v_target FROM users
     WHERE id = p_new_owner AND NOT disabled AND deleted_at IS NULL;
    IF v_target.id IS NULL THEN
      RAISE EXCEPTION 'no active user %', p_new_owner USING ERRCODE = 'LQ404';
    END IF;
    IF v_role <> 'admin' AND (v_target.team_id IS DISTINCT FROM v_team OR v_team IS NULL) THEN
      RAISE EXCEPTION 'a team lead reassigns within their own team only' USING ERRCODE = 'LQ403';
    END IF;
  END IF;
  UPDATE lead_leases SET released_at = greatest(v_now, leased_at)
   WHERE lead_id = p_lead AND released_at IS NULL;
  v_why := jsonb_build_object(
    'version', 1, 'at', v_now, 'via', 'reassign', 'method', 'reassign',
    'by', jsonb_build_object('id', v_me, 'name', v_my_name),
    'reason', nullif(btrim(p_reason), ''),
    'owner', CASE WHEN p_new_owner IS NULL THEN NULL
                  ELSE jsonb_build_object('id', p_new_owner, 'name', v_target.name) END,
    'summary', CASE WHEN p_new_owner IS NULL THEN 'returned to the pool' ELSE 'reassigned to '
                    || v_target.name END || ' by ' || coalesce(v_my_name, 'a team lead')
                    || coalesce(': ' || nullif(btrim(p_reason), ''), ''),
    'previous', CASE WHEN jsonb_typeof(v_lead.routing_explanation) = 'object'
                     THEN v_lead.routing_explanation - 'previous' END);
  PERFORM set_config('leadqueue.event', 'reassigned', true);
  UPDATE leads SET owner_id = p_new_owner,
         team_id = coalesce(v_target.team_id, team_id),
         assigned_at = CASE WHEN p_new_owner IS NULL THEN NULL ELSE v_now END,
         acknowledged_at = NULL, routing_explanation = v_why,
         updated_at = v_now, version = version + 1
   WHERE id = p_lead;
  PERFORM set_config('leadqueue.event', '', true);
  INSERT INTO audit_log (id, at, actor_id, actor, rule, entity, entity_id, change, reason)
  VALUES (lq_uuid7(), v_now, v_me, 'app', 'reassign', 'lead', p_lead,
          jsonb_build_object('owner_id', jsonb_build_array(v_lead.owner_id, p_new_owner)),
          p_reason);
END $$""",
        f"""CREATE OR REPLACE FUNCTION lq_set_status(p_lead uuid, p_status text,
    p_epoch bigint DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER {sp} AS $$
DECLARE {decl} v_lead leads; v_active lead_leases;
BEGIN
  {caller}
  SELECT * INTO v_lead FROM leads WHERE id = p_lead FOR UPDATE;
  IF v_lead.id IS NULL THEN
    RAISE EXCEPTION 'no lead %', p_lead USING ERRCODE = 'LQ404';
  END IF;
  -- coalesce: a pool lead (owner NULL) compares NULL, which must refuse, not pass
  IF NOT coalesce(v_role = 'admin' OR (v_role = 'team_lead' AND v_lead.team_id = v_team)
          OR v_lead.owner_id = v_me, false) THEN
    RAISE EXCEPTION 'lead % is not yours', p_lead USING ERRCODE = 'LQ403';
  END IF;
  SELECT * INTO v_active FROM lead_leases
   WHERE lead_id = p_lead AND released_at IS NULL ORDER BY epoch DESC LIMIT 1;
  IF p_epoch IS NOT NULL OR (v_active.id IS NOT NULL AND v_role = 'rep') THEN
    IF p_epoch IS NULL THEN
      RAISE EXCEPTION 'lead % is held under a lease: pass its epoch', p_lead
        USING ERRCODE = 'LQ409';
    END IF;
    PERFORM lq_check_lease(p_lead, p_epoch, v_me, v_now);
  END IF;
  UPDATE leads SET status = p_status, updated_at = v_now, version = version + 1 WHERE id = p_lead;
  INSERT INTO audit_log (id, at, actor_id, actor, rule, entity, entity_id, change, reason)
  VALUES (lq_uuid7(), v_now, v_me, 'app', 'set_status', 'lead', p_lead,
          jsonb_build_object('status', jsonb_build_array(v_lead.status, p_status)), NULL);
END $$""",
    ]


#: Functions clients may call (everything else: no EXECUTE for PUBLIC).
CLIENT_FUNCTIONS = (
    "lq_role_prefix()", "lq_now()", "lq_me()", "lq_my_team()", "lq_my_role()",
    "lq_rep_channel(uuid)", "lq_team_channel(uuid)", "lq_claim_next()",
    "lq_renew(uuid, bigint)", "lq_release(uuid, bigint)",
    "lq_reassign(uuid, uuid, text)", "lq_set_status(uuid, text, bigint)",
)
#: Functions for the worker, which runs as an admin's login: returning every
#: team's expired claims is its duty (``intake.shared_pass``). A claim returns
#: its own team's expired claims inside ``lq_claim_next`` (which calls the
#: owner-only ``lq_expire_leases_for`` as the owner), so no rep or team lead
#: needs it.
ADMIN_FUNCTIONS = ("lq_expire_leases()",)
OWNER_ONLY_FUNCTIONS = ("lq_uuid7()", "lq_check_lease(uuid, bigint, uuid, timestamptz)",
                        "lq_expire_leases_for(uuid, integer)", "lq_intake_notify()",
                        "lq_leads_notify()")

#: (name, table, definition) created when missing.
CONSTRAINTS = (
    ("lead_leases_no_overlap", "lead_leases",
     "EXCLUDE USING gist (lead_id WITH =, "
     "tstzrange(leased_at, coalesce(released_at, expires_at)) WITH &&)"),
    ("lead_leases_positive", "lead_leases", "CHECK (expires_at > leased_at)"),
)

#: (name, definition) created when missing: what the policies and claims use.
INDEXES = (
    ("lq_ix_leads_pool", "ON leads (team_id, priority, sla_due_at, score DESC, created_at) "
     "WHERE owner_id IS NULL AND deleted_at IS NULL AND merged_into_id IS NULL "
     "AND status IN ('new', 'working')"),
    ("lq_ix_lead_leases_expiry", "ON lead_leases (expires_at) WHERE released_at IS NULL"),
    ("lq_ix_lead_leases_holder", "ON lead_leases (holder_id)"),
    ("lq_ix_activities_author", "ON activities (author_id)"),
    ("lq_ix_accounts_owner", "ON accounts (owner_id)"),
    ("lq_ix_accounts_team", "ON accounts (team_id)"),
    ("lq_ix_audit_log_actor", "ON audit_log (actor_id)"),
    ("lq_ix_leads_assigned", "ON leads (owner_id, assigned_at)"),
    # the worker's queue of intake rows other systems handed in
    ("lq_ix_intake_pending", "ON intake (received_at, id) WHERE processed_at IS NULL"),
    # every column a policy reads has an index that leads with it
    # (tests/test_shared_rls.py checks this against pg_policy's dependencies)
    ("lq_ix_routing_rules_team", "ON routing_rules (team_id)"),
    ("lq_ix_cadences_team", "ON cadences (team_id)"),
    ("lq_ix_routing_state_user", "ON routing_state (user_id)"),
)

TRIGGERS = (
    ("lq_leads_notify_insert", "AFTER INSERT ON leads FOR EACH ROW "
     "WHEN (NEW.owner_id IS NOT NULL OR NEW.team_id IS NOT NULL) "
     "EXECUTE FUNCTION lq_leads_notify()"),
    ("lq_intake_notify", "AFTER INSERT ON intake FOR EACH STATEMENT "
     "EXECUTE FUNCTION lq_intake_notify()"),
    ("lq_leads_notify_update", "AFTER UPDATE OF owner_id ON leads FOR EACH ROW "
     "WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id) EXECUTE FUNCTION lq_leads_notify()"),
)
