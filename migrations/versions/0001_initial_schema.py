"""Initial schema.

Revision ID: 0001

The whole schema of the first release: teams, users, accounts, leads,
activities, SLA policies, routing rules and state, templates, cadences, steps
and enrollments, notifications, rule firings, lead leases and the audit log.
Revises: 
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import leadqueue.dbtypes

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('teams',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False),
    sa.Column('calling_window_start', sa.String(length=5), server_default='08:00', nullable=False),
    sa.Column('calling_window_end', sa.String(length=5), server_default='20:00', nullable=False),
    sa.Column('lease_minutes', sa.Integer(), server_default='30', nullable=False),
    sa.Column('travel_lease_hours', sa.Integer(), server_default='72', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_teams_name'))
    )
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_teams_server_seq'), ['server_seq'], unique=False)

    op.create_table('templates',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('channel', sa.Enum('call', 'email', 'sms', 'social', name='channel', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_templates')),
    sa.UniqueConstraint('name', name=op.f('uq_templates_name'))
    )
    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_templates_server_seq'), ['server_seq'], unique=False)

    op.create_table('cadences',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('skip_weekends', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('recycle_days', sa.Integer(), server_default='90', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_cadences_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadences')),
    sa.UniqueConstraint('name', name=op.f('uq_cadences_name'))
    )
    with op.batch_alter_table('cadences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cadences_server_seq'), ['server_seq'], unique=False)

    op.create_table('sla_policies',
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('first_response_minutes', sa.Integer(), nullable=True),
    sa.Column('business_hours_only', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('working_days', sa.String(length=7), server_default='12345', nullable=False),
    sa.Column('work_start', sa.String(length=5), server_default='09:00', nullable=False),
    sa.Column('work_end', sa.String(length=5), server_default='17:00', nullable=False),
    sa.Column('holidays', leadqueue.dbtypes.JSONDoc, nullable=False),
    sa.Column('escalation', leadqueue.dbtypes.JSONDoc, nullable=False),
    sa.Column('ack_backup_minutes', sa.Integer(), nullable=True),
    sa.Column('ack_pool_minutes', sa.Integer(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('priority BETWEEN 1 AND 4', name=op.f('ck_sla_policies_priority_range')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_sla_policies_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('team_id', 'priority', name=op.f('uq_sla_policies_team_id_priority'))
    )
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sla_policies_server_seq'), ['server_seq'], unique=False)

    op.create_table('users',
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('rep', 'team_lead', 'admin', name='role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('territory', sa.String(length=64), nullable=True),
    sa.Column('daily_capacity', sa.Integer(), server_default='20', nullable=False),
    sa.Column('available', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('db_role', sa.String(length=63), nullable=True),
    sa.Column('backup_id', sa.Uuid(), nullable=True),
    sa.Column('routing_weight', sa.Integer(), server_default='1', nullable=False),
    sa.Column('quiet_hours_start', sa.String(length=5), nullable=True),
    sa.Column('quiet_hours_end', sa.String(length=5), nullable=True),
    sa.Column('last_seen_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disabled', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['backup_id'], ['users.id'], name=op.f('fk_users_backup_id_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_users_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('db_role', name=op.f('uq_users_db_role')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_server_seq'), ['server_seq'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_team_id'), ['team_id'], unique=False)

    op.create_table('accounts',
    sa.Column('company', sa.String(length=200), nullable=False),
    sa.Column('domains', leadqueue.dbtypes.JSONDoc, nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_accounts_owner_id_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_accounts_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_company'), ['company'], unique=False)
        batch_op.create_index(batch_op.f('ix_accounts_server_seq'), ['server_seq'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('rule', sa.String(length=120), nullable=True),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=True),
    sa.Column('change', leadqueue.dbtypes.JSONDoc, nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_log_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('cadence_steps',
    sa.Column('cadence_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('day_offset', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('call', 'email', 'sms', 'social', name='channel', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('template_id', sa.Uuid(), nullable=True),
    sa.Column('local_time', sa.String(length=5), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('day_offset >= 0', name=op.f('ck_cadence_steps_day_offset_non_negative')),
    sa.ForeignKeyConstraint(['cadence_id'], ['cadences.id'], name=op.f('fk_cadence_steps_cadence_id_cadences')),
    sa.ForeignKeyConstraint(['template_id'], ['templates.id'], name=op.f('fk_cadence_steps_template_id_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadence_steps')),
    sa.UniqueConstraint('cadence_id', 'position', name=op.f('uq_cadence_steps_cadence_id_position'))
    )
    with op.batch_alter_table('cadence_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cadence_steps_server_seq'), ['server_seq'], unique=False)

    op.create_table('routing_rules',
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('match', leadqueue.dbtypes.JSONDoc, nullable=False),
    sa.Column('method', sa.Enum('rep', 'round_robin', 'weighted', 'pool', name='routing_method', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('target_user_id', sa.Uuid(), nullable=True),
    sa.Column('target_team_id', sa.Uuid(), nullable=True),
    sa.Column('weights', leadqueue.dbtypes.JSONDoc, nullable=False),
    sa.Column('backup_user_id', sa.Uuid(), nullable=True),
    sa.Column('backup_team_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['backup_team_id'], ['teams.id'], name=op.f('fk_routing_rules_backup_team_id_teams')),
    sa.ForeignKeyConstraint(['backup_user_id'], ['users.id'], name=op.f('fk_routing_rules_backup_user_id_users')),
    sa.ForeignKeyConstraint(['target_team_id'], ['teams.id'], name=op.f('fk_routing_rules_target_team_id_teams')),
    sa.ForeignKeyConstraint(['target_user_id'], ['users.id'], name=op.f('fk_routing_rules_target_user_id_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_routing_rules_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules'))
    )
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_rules_server_seq'), ['server_seq'], unique=False)

    op.create_table('leads',
    sa.Column('external_id', sa.String(length=120), nullable=True),
    sa.Column('first_name', sa.String(length=120), nullable=False),
    sa.Column('last_name', sa.String(length=120), nullable=False),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('priority', sa.Integer(), server_default='3', nullable=False),
    sa.Column('lead_class', sa.Enum('high_intent', 'qualification_needed', 'early_stage', 'poor_fit', 'existing_account', name='lead_class', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('new', 'working', 'meeting', 'nurture', 'no_response', 'disqualified', 'converted', name='lead_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_action_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_action_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_step', sa.Text(), nullable=True),
    sa.Column('next_step_kind', sa.Enum('callback', 'call', 'email', 'sms', 'social', 'other', name='next_step_kind', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('next_step_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('snoozed_until', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('do_not_contact', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('no_response_reason', sa.Enum('cadence_exhausted', 'bad_contact_data', 'unreachable', 'other', name='no_response_reason', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('disqualify_reason', sa.Enum('poor_fit', 'wrong_contact', 'duplicate', 'competitor', 'no_budget', 'other', name='disqualify_reason', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('disqualify_note', sa.Text(), nullable=True),
    sa.Column('final_outcome', sa.String(length=200), nullable=True),
    sa.Column('score', sa.Integer(), server_default='0', nullable=False),
    sa.Column('score_breakdown', leadqueue.dbtypes.JSONDoc, nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('state', sa.String(length=64), nullable=True),
    sa.Column('territory', sa.String(length=64), nullable=True),
    sa.Column('company_size', sa.Integer(), nullable=True),
    sa.Column('product_interest', sa.String(length=120), nullable=True),
    sa.Column('recycle_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('merged_into_id', sa.Uuid(), nullable=True),
    sa.Column('data_issues', leadqueue.dbtypes.JSONDoc, nullable=False),
    sa.Column('routing_explanation', leadqueue.dbtypes.JSONDoc, nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_leads_attempts_non_negative')),
    sa.CheckConstraint('priority BETWEEN 1 AND 4', name=op.f('ck_leads_priority_range')),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_leads_account_id_accounts')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['leads.id'], name=op.f('fk_leads_merged_into_id_leads')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_leads_owner_id_users')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_leads_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads')),
    sa.UniqueConstraint('external_id', name=op.f('uq_leads_external_id'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index('ix_leads_email', ['email'], unique=False)
        batch_op.create_index('ix_leads_owner_status', ['owner_id', 'status'], unique=False)
        batch_op.create_index('ix_leads_phone', ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_leads_server_seq'), ['server_seq'], unique=False)
        batch_op.create_index('ix_leads_team_pool', ['team_id', 'status', 'owner_id'], unique=False)

    op.create_table('routing_state',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('rule_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('assigned_count', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('last_assigned_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['rule_id'], ['routing_rules.id'], name=op.f('fk_routing_state_rule_id_routing_rules')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_routing_state_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_state')),
    sa.UniqueConstraint('rule_id', 'user_id', name=op.f('uq_routing_state_rule_id_user_id'))
    )
    op.create_table('activities',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('lead_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('call', 'email', 'sms', 'social', 'note', name='activity_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('direction', sa.Enum('outbound', 'inbound', name='direction', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('outcome', sa.Enum('connected', 'voicemail', 'no_answer', 'busy', 'wrong_number', 'bad_number', 'meeting_booked', 'not_interested', name='call_outcome', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('duration_s', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('supersedes_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('duration_s IS NULL OR duration_s >= 0', name=op.f('ck_activities_duration_non_negative')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_activities_author_id_users')),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_activities_lead_id_leads')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['activities.id'], name=op.f('fk_activities_supersedes_id_activities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activities'))
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_lead_at', ['lead_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_server_seq'), ['server_seq'], unique=False)

    op.create_table('cadence_enrollments',
    sa.Column('lead_id', sa.Uuid(), nullable=False),
    sa.Column('cadence_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.Enum('active', 'completed', 'stopped', name='enrollment_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('enrolled_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('current_step', sa.Integer(), server_default='1', nullable=False),
    sa.Column('ended_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=64), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cadence_id'], ['cadences.id'], name=op.f('fk_cadence_enrollments_cadence_id_cadences')),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_cadence_enrollments_lead_id_leads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadence_enrollments'))
    )
    with op.batch_alter_table('cadence_enrollments', schema=None) as batch_op:
        batch_op.create_index('ix_cadence_enrollments_lead_status', ['lead_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cadence_enrollments_server_seq'), ['server_seq'], unique=False)

    op.create_table('lead_leases',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('lead_id', sa.Uuid(), nullable=False),
    sa.Column('holder_id', sa.Uuid(), nullable=False),
    sa.Column('epoch', sa.BigInteger(), nullable=False),
    sa.Column('leased_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('travel', sa.Boolean(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['holder_id'], ['users.id'], name=op.f('fk_lead_leases_holder_id_users')),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_lead_leases_lead_id_leads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_leases'))
    )
    with op.batch_alter_table('lead_leases', schema=None) as batch_op:
        batch_op.create_index('ix_lead_leases_lead', ['lead_id'], unique=False)

    op.create_table('notifications',
    sa.Column('recipient_id', sa.Uuid(), nullable=False),
    sa.Column('lead_id', sa.Uuid(), nullable=True),
    sa.Column('level', sa.Enum('urgent', 'normal', 'quiet', name='notification_level', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('created_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seen_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('server_seq', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_notifications_lead_id_leads')),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_notifications_recipient_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notifications_dedupe_key'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_recipient_seen', ['recipient_id', 'seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_server_seq'), ['server_seq'], unique=False)

    op.create_table('rule_firings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('lead_id', sa.Uuid(), nullable=True),
    sa.Column('fired_at', leadqueue.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered', sa.Boolean(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_rule_firings_lead_id_leads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_firings')),
    sa.UniqueConstraint('key', name=op.f('uq_rule_firings_key'))
    )
    with op.batch_alter_table('rule_firings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_firings_lead_id'), ['lead_id'], unique=False)


    _seed_default_sla_policies()


#: The default ladder from the playbook: at the deadline notify the owner, +30 min
#: urgently, +2 h the team lead, +4 h reassign to the backup or the team pool.
DEFAULT_LADDER = [
    {"offset_minutes": 0, "action": "notify_owner"},
    {"offset_minutes": 30, "action": "notify_owner_urgent"},
    {"offset_minutes": 120, "action": "notify_team_lead"},
    {"offset_minutes": 240, "action": "reassign"},
]


def _seed_default_sla_policies() -> None:
    """Team-less default policies: P1 5 min, P2 60 min, P3 24 h, P4 none."""
    import uuid

    table = sa.table(
        "sla_policies",
        sa.column("id", sa.Uuid()),
        sa.column("team_id", sa.Uuid()),
        sa.column("priority", sa.Integer()),
        sa.column("first_response_minutes", sa.Integer()),
        sa.column("escalation", leadqueue.dbtypes.JSONDoc),
        sa.column("holidays", leadqueue.dbtypes.JSONDoc),
        sa.column("ack_backup_minutes", sa.Integer()),
        sa.column("ack_pool_minutes", sa.Integer()),
    )
    defaults = {1: (5, 15, 30), 2: (60, 30, 60), 3: (24 * 60, None, None), 4: (None, None, None)}
    op.bulk_insert(table, [
        {
            "id": uuid.UUID(f"00000000-0000-7000-8000-00000000000{priority}"),
            "team_id": None,
            "priority": priority,
            "first_response_minutes": target,
            "escalation": DEFAULT_LADDER if target is not None else [],
            "holidays": [],
            "ack_backup_minutes": backup,
            "ack_pool_minutes": pool,
        }
        for priority, (target, backup, pool) in defaults.items()
    ])


def downgrade() -> None:
    with op.batch_alter_table('rule_firings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rule_firings_lead_id'))

    op.drop_table('rule_firings')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_server_seq'))
        batch_op.drop_index('ix_notifications_recipient_seen')

    op.drop_table('notifications')
    with op.batch_alter_table('lead_leases', schema=None) as batch_op:
        batch_op.drop_index('ix_lead_leases_lead')

    op.drop_table('lead_leases')
    with op.batch_alter_table('cadence_enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cadence_enrollments_server_seq'))
        batch_op.drop_index('ix_cadence_enrollments_lead_status')

    op.drop_table('cadence_enrollments')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activities_server_seq'))
        batch_op.drop_index('ix_activities_lead_at')

    op.drop_table('activities')
    op.drop_table('routing_state')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_team_pool')
        batch_op.drop_index(batch_op.f('ix_leads_server_seq'))
        batch_op.drop_index('ix_leads_phone')
        batch_op.drop_index('ix_leads_owner_status')
        batch_op.drop_index('ix_leads_email')

    op.drop_table('leads')
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_rules_server_seq'))

    op.drop_table('routing_rules')
    with op.batch_alter_table('cadence_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cadence_steps_server_seq'))

    op.drop_table('cadence_steps')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_entity')

    op.drop_table('audit_log')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_server_seq'))
        batch_op.drop_index(batch_op.f('ix_accounts_company'))

    op.drop_table('accounts')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_team_id'))
        batch_op.drop_index(batch_op.f('ix_users_server_seq'))

    op.drop_table('users')
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sla_policies_server_seq'))

    op.drop_table('sla_policies')
    with op.batch_alter_table('cadences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cadences_server_seq'))

    op.drop_table('cadences')
    with op.batch_alter_table('templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_templates_server_seq'))

    op.drop_table('templates')
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_teams_server_seq'))

    op.drop_table('teams')
