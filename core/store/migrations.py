"""Numbered schema migrations. Append only: a migration, once released, never changes."""

MIGRATIONS: list[list[str]] = [
    # 1: projects, repos, agent profiles, runs and their worktrees, events, approvals
    [
        """CREATE TABLE projects (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE repos (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            path TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (project_id, path))""",
        """CREATE TABLE agents (
            id TEXT PRIMARY KEY,
            project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            cli TEXT NOT NULL,
            model TEXT,
            instructions TEXT,
            allowed_tools TEXT NOT NULL DEFAULT '[]',
            max_turns INTEGER,
            command TEXT,
            permission_mode TEXT NOT NULL DEFAULT 'acceptEdits',
            created_at TEXT NOT NULL)""",
        "CREATE UNIQUE INDEX agents_by_name ON agents (coalesce(project_id, ''), name)",
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            agent_name TEXT NOT NULL,
            task TEXT NOT NULL,
            status TEXT NOT NULL,
            base_ref TEXT NOT NULL,
            branch TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            started_at TEXT,
            ended_at TEXT,
            tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            session_id TEXT,
            reason TEXT,
            pid INTEGER,
            owner_pid INTEGER,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            parent_run_id TEXT)""",
        "CREATE INDEX runs_by_status ON runs (status)",
        """CREATE TABLE run_worktrees (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            repo_id TEXT NOT NULL,
            repo_name TEXT NOT NULL,
            repo_path TEXT NOT NULL,
            path TEXT NOT NULL,
            base_sha TEXT NOT NULL,
            PRIMARY KEY (run_id, repo_id))""",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (run_id, seq))""",
        """CREATE TABLE approvals (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            request_id TEXT NOT NULL,
            tool TEXT NOT NULL,
            input TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            message TEXT,
            created_at TEXT NOT NULL,
            answered_at TEXT,
            UNIQUE (run_id, request_id))""",
        """INSERT INTO agents (id, name, cli, created_at)
           VALUES ('00000000-0000-4000-8000-000000000001', 'claude', 'claude-code',
                   strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))""",
    ],
    # 2: files changed by a run (counted when it ends), and "allow always" answers
    [
        "ALTER TABLE runs ADD COLUMN files_changed INTEGER",
        "ALTER TABLE approvals ADD COLUMN suggestions TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE approvals ADD COLUMN always INTEGER NOT NULL DEFAULT 0",
    ],
    # 3: API tokens, webhooks and their deliveries
    [
        """CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            salt TEXT NOT NULL,
            hash TEXT NOT NULL,
            read_only INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT)""",
        """CREATE TABLE webhooks (
            id TEXT PRIMARY KEY,
            project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
            url TEXT NOT NULL,
            secret TEXT NOT NULL,
            events TEXT NOT NULL,
            format TEXT NOT NULL DEFAULT 'json',
            created_at TEXT NOT NULL)""",
        """CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            delivery_id TEXT NOT NULL,
            webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
            event_type TEXT NOT NULL,
            run_id TEXT,
            attempt INTEGER NOT NULL,
            status_code INTEGER,
            error TEXT,
            delivered INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL)""",
        "CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id)",
    ],
    # 4: the branch a run's work lands on, its pull request, a project's post-create command
    [
        "ALTER TABLE run_worktrees ADD COLUMN base_branch TEXT",
        "ALTER TABLE runs ADD COLUMN pr_url TEXT",
        "ALTER TABLE projects ADD COLUMN post_create TEXT",
    ],
    # 5: which processes a run's owner and agent are, so a crash can be told from a pid reused
    [
        "ALTER TABLE runs ADD COLUMN owner_started INTEGER",
        "ALTER TABLE runs ADD COLUMN agent_started INTEGER",
    ],
    # 6: limits of an agent profile: money, wall-clock time, output volume
    [
        "ALTER TABLE agents ADD COLUMN max_budget_usd REAL",
        "ALTER TABLE agents ADD COLUMN timeout_seconds INTEGER",
        "ALTER TABLE agents ADD COLUMN max_output_mb REAL",
    ],
    # 7: whether the user wants to be told when a run needs them or ends
    [
        "ALTER TABLE runs ADD COLUMN notify INTEGER NOT NULL DEFAULT 0",
    ],
    # 8: the run queue (limits of runs at once, its order), rewinding a session, a hung agent's limit,
    # a project's notifications, global settings
    [
        "ALTER TABLE runs ADD COLUMN queued_at TEXT",
        "ALTER TABLE runs ADD COLUMN resume_at TEXT",
        "ALTER TABLE agents ADD COLUMN idle_timeout_seconds INTEGER",
        "ALTER TABLE projects ADD COLUMN max_runs INTEGER",
        "ALTER TABLE projects ADD COLUMN notify INTEGER NOT NULL DEFAULT 1",
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ],
    # 9: planning sessions, the task board (tasks, their dependencies and history), plan runs
    [
        "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'work'",
        "ALTER TABLE projects ADD COLUMN task_counter INTEGER NOT NULL DEFAULT 1000",
        "ALTER TABLE projects ADD COLUMN auto_approve_plan INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE projects ADD COLUMN deps_need_merge INTEGER NOT NULL DEFAULT 1",
        """CREATE TABLE plans (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            run_id TEXT,
            topic TEXT NOT NULL,
            model TEXT,
            effort TEXT NOT NULL,
            granularity TEXT NOT NULL,
            context TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX plans_by_project ON plans (project_id, created_at)",
        """CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            plan_id TEXT REFERENCES plans(id) ON DELETE SET NULL,
            key TEXT NOT NULL,
            title TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            type TEXT NOT NULL,
            priority TEXT NOT NULL,
            status TEXT NOT NULL,
            phase TEXT,
            acceptance TEXT NOT NULL DEFAULT '[]',
            tags TEXT NOT NULL DEFAULT '[]',
            run_id TEXT,
            position INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (project_id, key))""",
        """CREATE TABLE task_deps (
            task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            depends_on TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            PRIMARY KEY (task_id, depends_on))""",
        """CREATE TABLE task_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
            field TEXT NOT NULL,
            old TEXT,
            new TEXT,
            at TEXT NOT NULL)""",
    ],
    # 10: a task in review whose run changed nothing is told apart: there is nothing to merge
    [
        "ALTER TABLE tasks ADD COLUMN no_changes INTEGER NOT NULL DEFAULT 0",
    ],
    # 11: a profile says where its model is (never a key: the name of the variable holding it), and its role
    [
        "ALTER TABLE agents ADD COLUMN provider_config TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE agents ADD COLUMN role TEXT NOT NULL DEFAULT 'builder'",
    ],
    # 12: the same task raced across several agents: their runs share a group
    [
        "ALTER TABLE runs ADD COLUMN group_id TEXT",
        "CREATE INDEX runs_group ON runs (group_id) WHERE group_id IS NOT NULL",
    ],
    # 13: a token is a user's, with a role (admin, operator, viewer: read-only ones become viewers);
    # who answered each permission request is kept
    [
        "ALTER TABLE api_tokens ADD COLUMN user_name TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'",
        "UPDATE api_tokens SET role = 'viewer' WHERE read_only = 1",
        "UPDATE api_tokens SET user_name = name",
        "ALTER TABLE approvals ADD COLUMN answered_by TEXT",
    ],
    # 14: a project's checks (commands run when a run's agent is done) and how many times a failure goes
    # back to the agent; each run's last check results
    [
        "ALTER TABLE projects ADD COLUMN checks TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE projects ADD COLUMN fix_tries INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN checks TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE runs ADD COLUMN fix_tries INTEGER",
    ],
    # 15: context for runs: files, pages and notes kept for a project's runs or for one run
    [
        """CREATE TABLE context_items (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            run_id TEXT REFERENCES runs(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            body TEXT NOT NULL,
            tokens INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL)""",
        "CREATE INDEX context_items_by_project ON context_items (project_id, run_id, created_at)",
    ],
    # 16: the audit log: every change a user makes to a project's setup or deletes, who made it and when
    # (no link to the project: what was done to a project outlives it)
    [
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            project_id TEXT,
            at TEXT NOT NULL,
            by TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}')""",
        "CREATE INDEX audit_log_project ON audit_log (project_id, id)",
    ],
    # 17: commands run in a run's worktree (`corral exec`): one row each, so the running ones and the
    # history are one query, and a process that did not start one can still find it and end it
    [
        """CREATE TABLE commands (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            command TEXT NOT NULL,
            status TEXT NOT NULL,
            cwd TEXT NOT NULL,
            by_user TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            exit_code INTEGER,
            signal TEXT,
            seconds REAL,
            outcome TEXT,
            output_bytes INTEGER NOT NULL DEFAULT 0,
            dropped_bytes INTEGER NOT NULL DEFAULT 0,
            pid INTEGER,
            process_started INTEGER,
            owner_pid INTEGER,
            owner_started INTEGER,
            confirmed INTEGER NOT NULL DEFAULT 0,
            seq INTEGER,
            cancel_requested INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX commands_by_run ON commands (run_id, started_at)",
        "CREATE INDEX commands_running ON commands (status) WHERE status = 'running'",
    ],
    # 18: runs listed newest first a page at a time, read off an index rather than sorted each time
    [
        "CREATE INDEX runs_by_kind_created ON runs (kind, created_at, id)",
    ],
]
