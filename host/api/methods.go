package api

// buildMethods registers every JSON-RPC method and compiles its params schema.
func (s *Server) buildMethods() (map[string]*method, error) {
	list := []*method{
		{name: "tasks.create", category: "crud", description: "Create a task tree from one task object or an array of tasks (validated whole); returns the task, or a flat array for several.", tags: []string{"crud"}, submission: true, handler: s.tasksCreate},
		{name: "tasks.generate", category: "crud", description: "Generate a task tree from a requirement in words with the operator's language model; the tree passes tasks.create's validation; save:true also creates it and returns root_task_id.", tags: []string{"crud", "llm"}, waits: true, handler: s.tasksGenerate},
		{name: "tasks.get", category: "crud", description: "Get one task by task_id (alias id).", tags: []string{"crud", "query"}, handler: s.tasksGet},
		{name: "tasks.detail", category: "crud", description: "Alias of tasks.get.", tags: []string{"crud", "query"}, handler: s.tasksGet},
		{name: "tasks.update", category: "crud", description: "Update fields of a task: flat params {task_id, field: value}. parent_id, user_id and id cannot change; dependencies only while pending; status only along the state machine.", tags: []string{"crud"}, handler: s.tasksUpdate},
		{name: "tasks.delete", category: "crud", description: "Delete a task and its descendants when all are pending (force: also terminal ones), none is running, linked or depended on from outside.", tags: []string{"crud"}, handler: s.tasksDelete},
		{name: "tasks.list", category: "query", description: "List tasks, newest first; root_only defaults to true.", tags: []string{"query"}, handler: s.tasksList},
		{name: "tasks.count", category: "query", description: "Count tasks per status.", tags: []string{"query"}, handler: s.tasksCount},
		{name: "tasks.tree", category: "query", description: "The subtree rooted at task_id (alias root_id) as nested {task, children}.", tags: []string{"query"}, handler: s.tasksTree},
		{name: "tasks.logs", category: "query", description: "A page of the log lines a task's executor and hooks logged (bounded per task), oldest first, after the cursor after; next_after is the cursor of the next call.", tags: []string{"query", "monitoring"}, handler: s.tasksLogs},
		{name: "tasks.children", category: "query", description: "Direct children of parent_id (alias task_id), by priority.", tags: []string{"query"}, handler: s.tasksChildren},
		{name: "tasks.clone", category: "crud", description: "Copy, link, archive or mix-clone a task (recursively by default); save:false returns an unsaved preview.", tags: []string{"crud"}, handler: s.tasksClone},
		{name: "tasks.execute", category: "agent_action", description: "Run a stored tree (task_id) or validate, create and run inline tasks; waits for the end unless use_streaming (SSE) or webhook_config is given.", tags: []string{"execution"}, streaming: true, waits: true, submission: true, handler: s.tasksExecute},
		{name: "tasks.cancel", category: "agent_action", description: "Cancel tasks (task_ids list or comma-separated string); cancelling a root cancels its tree.", tags: []string{"execution"}, handler: s.tasksCancel},
		{name: "tasks.running.cancel", category: "agent_action", description: "Alias of tasks.cancel.", tags: []string{"execution", "monitoring"}, handler: s.tasksCancel},
		{name: "tasks.running.list", category: "monitoring", description: "Root tasks of the runs in progress.", tags: []string{"monitoring"}, handler: s.runningList},
		{name: "tasks.running.status", category: "monitoring", description: "Status of tasks by id, with is_running.", tags: []string{"monitoring"}, handler: s.runningStatus},
		{name: "tasks.running.count", category: "monitoring", description: "Number of runs in progress.", tags: []string{"monitoring"}, handler: s.runningCount},
		{name: "tasks.scheduled.list", category: "query", description: "Tasks with a schedule, next_run_at ascending (none last); enabled_only defaults to true.", tags: []string{"query", "schedule"}, handler: s.scheduledList},
		{name: "tasks.scheduled.due", category: "query", description: "Enabled schedules due at before (default now), not running, oldest first.", tags: []string{"query", "schedule"}, handler: s.scheduledDue},
		{name: "tasks.scheduled.init", category: "crud", description: "Compute and store next_run_at of a task's schedule from from_time (default now).", tags: []string{"crud", "schedule"}, handler: s.scheduledInit},
		{name: "tasks.scheduled.complete", category: "crud", description: "Record a run made by an external scheduler: last_run_at, run_count, next_run_at or disable.", tags: []string{"crud", "schedule"}, handler: s.scheduledComplete},
		{name: "tasks.scheduled.export-ical", category: "query", description: "The scheduled tasks as an iCalendar (RFC 5545) document.", tags: []string{"query", "schedule"}, handler: s.scheduledICal},
		{name: "tasks.webhook.trigger", category: "agent_action", description: "Start a full re-run of a stored task's tree, as POST /webhook/trigger/{task_id}.", tags: []string{"execution", "schedule"}, waits: true, handler: s.webhookTrigger},
		{name: "system.health", endpoint: endpointSystem, category: "system", description: "Server health.", tags: []string{"system"}, handler: s.systemHealth},
		{name: "system.executors", endpoint: endpointSystem, category: "system", description: "Registered executors with their input and output schemas.", tags: []string{"system"}, handler: s.systemExecutors},
	}
	out := make(map[string]*method, len(list))
	for _, m := range list {
		if m.endpoint == "" {
			m.endpoint = endpointTasks
		}
		if err := m.compileSchema(); err != nil {
			return nil, err
		}
		out[m.name] = m
	}
	return out, nil
}

// methodOrder is the discovery order of categories.
var categoryOrder = []string{"agent_action", "crud", "query", "monitoring", "system"}
