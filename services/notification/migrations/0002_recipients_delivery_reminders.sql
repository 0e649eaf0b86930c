-- Recipients (nơi nhận): units (kept from the gateway's events; a unit's recipient id is
-- its unit id), outside bodies and people, with their contacts per channel.
CREATE TABLE recipients (
    id             UUID PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('unit', 'body', 'person')),
    name           TEXT NOT NULL,
    -- The unit itself (kind unit), or the unit whose API keys read the inbox.
    unit_id        UUID,
    -- A unit's kind (high_school, ...), from the gateway's events.
    unit_kind      TEXT,
    groups         TEXT[] NOT NULL DEFAULT '{}',
    language       TEXT NOT NULL DEFAULT 'vi' CHECK (language IN ('vi', 'en')),
    emails         TEXT[] NOT NULL DEFAULT '{}',
    webhook_url    TEXT,
    webhook_secret TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((webhook_url IS NULL) = (webhook_secret IS NULL))
);
CREATE UNIQUE INDEX recipients_one_per_unit ON recipients (unit_id) WHERE kind = 'unit';
CREATE INDEX recipients_groups ON recipients USING gin (groups);
CREATE INDEX recipients_list ON recipients (created_at, id);

INSERT INTO recipients (id, kind, name, unit_id, unit_kind, created_at)
SELECT unit_id, 'unit', name, unit_id, kind, created_at FROM units;
DROP TABLE units;

-- Who is told what. Exactly one audience: one recipient, a group, or the recipients
-- the event concerns.
CREATE TABLE subscriptions (
    id           UUID PRIMARY KEY,
    event_type   TEXT NOT NULL,
    recipient_id UUID REFERENCES recipients (id),
    group_name   TEXT,
    affected     BOOLEAN NOT NULL DEFAULT false,
    filters      JSONB NOT NULL DEFAULT '{}',
    channels     TEXT[] NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (num_nonnulls(recipient_id, group_name, NULLIF(affected, false)) = 1)
);
CREATE INDEX subscriptions_by_type ON subscriptions (event_type);

-- Templates, versioned: a save adds a version, messages name the one they used.
CREATE TABLE templates (
    key        TEXT NOT NULL,
    language   TEXT NOT NULL,
    version    INT NOT NULL,
    subject    TEXT NOT NULL,
    text       TEXT NOT NULL,
    html       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (key, language, version)
);

-- Messages become deliveries: one per (cause, recipient, channel), with a status the
-- worker moves along and every attempt recorded.
ALTER TABLE messages ADD COLUMN recipient_id UUID;
UPDATE messages SET recipient_id = unit_id;
ALTER TABLE messages ALTER COLUMN recipient_id SET NOT NULL;
ALTER TABLE messages ALTER COLUMN unit_id DROP NOT NULL;
ALTER TABLE messages DROP CONSTRAINT messages_event_id_unit_id_channel_key;
ALTER TABLE messages ADD CONSTRAINT messages_once UNIQUE (event_id, recipient_id, channel);
ALTER TABLE messages
    ADD COLUMN kind            TEXT NOT NULL DEFAULT 'procedure_changed',
    ADD COLUMN language        TEXT NOT NULL DEFAULT 'vi',
    ADD COLUMN html            TEXT NOT NULL DEFAULT '',
    -- The placeholder values, sent as the webhook's data.
    ADD COLUMN data            JSONB NOT NULL DEFAULT '{}',
    -- What deliveries to the same place share; each has its own concurrency limit.
    ADD COLUMN endpoint        TEXT NOT NULL DEFAULT '',
    -- Addresses or URL of the latest attempt.
    ADD COLUMN destination     TEXT NOT NULL DEFAULT '',
    -- created, sending, delivered, temporary_failure, dead_lettered
    ADD COLUMN status          TEXT NOT NULL DEFAULT 'delivered',
    ADD COLUMN attempts        INT NOT NULL DEFAULT 0,
    ADD COLUMN tries_left      INT NOT NULL DEFAULT 0,
    -- When the worker may take it: the next try, or, while sending, the end of the
    -- lease after which a crashed attempt is taken again.
    ADD COLUMN next_attempt_at TIMESTAMPTZ,
    ADD COLUMN last_error      TEXT,
    ADD COLUMN delivered_at    TIMESTAMPTZ;
UPDATE messages SET delivered_at = created_at, attempts = 1;
ALTER TABLE messages ALTER COLUMN status DROP DEFAULT;
CREATE INDEX messages_due ON messages (next_attempt_at)
    WHERE status IN ('created', 'temporary_failure', 'sending');
CREATE INDEX messages_dead ON messages (created_at DESC, id DESC) WHERE status = 'dead_lettered';

CREATE TABLE delivery_attempts (
    message_id  UUID NOT NULL REFERENCES messages (id),
    attempt     INT NOT NULL,
    -- sending, delivered, temporary_failure, permanent_failure
    status      TEXT NOT NULL,
    reason      TEXT,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    PRIMARY KEY (message_id, attempt)
);
INSERT INTO delivery_attempts (message_id, attempt, status, started_at, finished_at)
SELECT id, 1, 'delivered', created_at, created_at FROM messages;

-- Plans as the reporting service announces them: periods with due dates, covered
-- units, recipients.
CREATE TABLE plans (
    plan_id       UUID PRIMARY KEY,
    number_symbol TEXT NOT NULL,
    year          INT NOT NULL,
    title         TEXT NOT NULL,
    revision      INT NOT NULL,
    unit_ids      UUID[] NOT NULL,
    recipient_ids UUID[] NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE plan_periods (
    plan_id    UUID NOT NULL REFERENCES plans (plan_id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    title      TEXT NOT NULL,
    start_date DATE NOT NULL,
    end_date   DATE NOT NULL,
    due_date   DATE NOT NULL,
    PRIMARY KEY (plan_id, key)
);
CREATE INDEX plan_periods_due ON plan_periods (due_date);

-- What units reported, to know who to remind.
CREATE TABLE unit_activities (
    activity_id UUID PRIMARY KEY,
    unit_id     UUID NOT NULL,
    date        DATE NOT NULL,
    supersedes  UUID
);
CREATE INDEX unit_activities_by_unit ON unit_activities (unit_id, date);
CREATE INDEX unit_activities_supersedes ON unit_activities (supersedes) WHERE supersedes IS NOT NULL;
CREATE TABLE unit_one_stop (
    unit_id    UUID NOT NULL,
    period     TEXT NOT NULL,
    start_date DATE NOT NULL,
    end_date   DATE NOT NULL,
    PRIMARY KEY (unit_id, period)
);

-- Each reminder fires once: the row and its messages commit together. Escalations
-- carry the nil unit.
CREATE TABLE reminders (
    id         UUID PRIMARY KEY,
    plan_id    UUID NOT NULL,
    period_key TEXT NOT NULL,
    unit_id    UUID NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('report_due', 'report_overdue')),
    fired_on   DATE NOT NULL,
    units      INT NOT NULL DEFAULT 1,
    fired_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (plan_id, period_key, unit_id, kind)
);

-- Postings that went stale, until confirmed again; reminded once per version.
CREATE TABLE stale_postings (
    unit_id         UUID NOT NULL,
    code            TEXT NOT NULL,
    procedure_name  TEXT NOT NULL,
    posted_version  INT NOT NULL,
    current_version INT NOT NULL,
    stale_on        DATE NOT NULL,
    resolved_at     TIMESTAMPTZ,
    reminder_id     UUID,
    reminded_on     DATE,
    PRIMARY KEY (unit_id, code)
);
CREATE INDEX stale_postings_open ON stale_postings (stale_on) WHERE resolved_at IS NULL AND reminder_id IS NULL;
