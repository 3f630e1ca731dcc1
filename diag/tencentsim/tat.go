package tencentsim

import (
	"encoding/base64"
	"slices"
	"time"
)

const (
	agentVersion          = "1.1.5"
	maxCommandInstances   = 200
	maxContentBytes       = 64 << 10
	defaultCommandTimeout = 60
	maxCommandTimeout     = 86400
	// commandRunTime is how long a simulated command runs, for its times.
	commandRunTime = time.Second
)

// invocation is one RunCommand.
type invocation struct {
	id, commandID string
	commandType   string
	content       string // base64, as sent
	timeout       int
	created       time.Time
	tasks         []*invocationTask
}

// invocationTask is an invocation's run on one instance. It answers RUNNING
// to its first runningPolls polls, then SUCCESS with the guest's facts as
// they were when the command ran.
type invocationTask struct {
	id, instanceID string
	polls          int
	runningPolls   int
	output         string // base64
}

func (s *Sim) describeAutomationAgentStatus(req *request) (any, error) {
	var p struct {
		InstanceIDs []string `json:"InstanceIds"`
		Filters     filters  `json:"Filters"`
		Limit       int      `json:"Limit"`
		Offset      int      `json:"Offset"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if err := checkInstanceIDs(p.InstanceIDs, false); err != nil {
		return nil, err
	}
	if len(p.InstanceIDs) > 0 && len(p.Filters) > 0 {
		return nil, apiErrorf(codeInvalidParameter, "InstanceIds and Filters cannot be used together")
	}
	if err := p.Filters.check(codeInvalidParameter, "instance-id", "agent-status", "environment"); err != nil {
		return nil, err
	}
	type agentJSON struct {
		InstanceID        string   `json:"InstanceId"`
		Version           string   `json:"Version"`
		LastHeartbeatTime string   `json:"LastHeartbeatTime"`
		AgentStatus       string   `json:"AgentStatus"`
		Environment       string   `json:"Environment"`
		SupportFeatures   []string `json:"SupportFeatures"`
	}
	var found []agentJSON
	for _, in := range s.instancesIn(req.region) {
		a := agentJSON{InstanceID: in.sc.ID, Version: agentVersion, LastHeartbeatTime: formatISO(req.now.Add(-time.Hour)),
			AgentStatus: "Offline", Environment: environment(in.sc.OS), SupportFeatures: []string{"SessionManager"}}
		if in.agentOnline() {
			a.AgentStatus, a.LastHeartbeatTime = "Online", formatISO(req.now)
		}
		values := map[string][]string{"instance-id": {a.InstanceID}, "agent-status": {a.AgentStatus}, "environment": {a.Environment}}
		if in.sc.Agent.Present && (len(p.InstanceIDs) == 0 || slices.Contains(p.InstanceIDs, in.sc.ID)) &&
			p.Filters.match(func(n string) []string { return values[n] }) {
			found = append(found, a)
		}
	}
	lo, hi, err := page(len(found), p.Offset, p.Limit, 20, 100)
	if err != nil {
		return nil, err
	}
	return struct {
		AutomationAgentSet []agentJSON `json:"AutomationAgentSet"`
		TotalCount         int         `json:"TotalCount"`
	}{append([]agentJSON{}, found[lo:hi]...), len(found)}, nil
}

// environment is the TAT agent's Environment for an OS.
func environment(os string) string {
	if os == osWindows {
		return "Windows"
	}
	return "Linux"
}

// commandTypes maps each command type to the environment that runs it.
var commandTypes = map[string]string{"SHELL": "Linux", "POWERSHELL": "Windows", "BAT": "Windows"}

func (s *Sim) runCommand(req *request) (any, error) {
	var p struct {
		Content               string   `json:"Content"`
		InstanceIDs           []string `json:"InstanceIds"`
		CommandType           string   `json:"CommandType"`
		Timeout               int      `json:"Timeout"`
		CommandName           ignored  `json:"CommandName"`
		Description           ignored  `json:"Description"`
		WorkingDirectory      ignored  `json:"WorkingDirectory"`
		SaveCommand           ignored  `json:"SaveCommand"`
		EnableParameter       ignored  `json:"EnableParameter"`
		DefaultParameters     ignored  `json:"DefaultParameters"`
		DefaultParameterConfs ignored  `json:"DefaultParameterConfs"`
		Parameters            ignored  `json:"Parameters"`
		Tags                  ignored  `json:"Tags"`
		Username              ignored  `json:"Username"`
		OutputCOSBucketURL    ignored  `json:"OutputCOSBucketUrl"`
		OutputCOSKeyPrefix    ignored  `json:"OutputCOSKeyPrefix"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	inv := &invocation{id: newID("inv-"), commandID: newID("cmd-"), commandType: p.CommandType,
		content: p.Content, timeout: p.Timeout, created: req.now}
	if err := inv.check(len(p.InstanceIDs)); err != nil {
		return nil, err
	}
	for _, id := range p.InstanceIDs {
		in, err := s.commandTarget(req.region, id, inv.commandType)
		if err != nil {
			return nil, err
		}
		inv.tasks = append(inv.tasks, &invocationTask{id: newID("invt-"), instanceID: id, runningPolls: in.sc.InvocationPolls,
			output: base64.StdEncoding.EncodeToString([]byte(in.runScript(inv.content)))})
	}
	s.invocations = append(s.invocations, inv)
	return struct {
		CommandID    string `json:"CommandId"`
		InvocationID string `json:"InvocationId"`
	}{inv.commandID, inv.id}, nil
}

// check validates the command and fills its defaults.
func (inv *invocation) check(instances int) error {
	if inv.commandType == "" {
		inv.commandType = "SHELL"
	}
	if inv.timeout == 0 {
		inv.timeout = defaultCommandTimeout
	}
	_, typeOK := commandTypes[inv.commandType]
	_, decodeErr := base64.StdEncoding.DecodeString(inv.content)
	switch {
	case inv.content == "":
		return apiErrorf(codeMissingParameter, "Content is required")
	case decodeErr != nil:
		return apiErrorf(codeInvalidValue, "Content must be Base64-encoded")
	case len(inv.content) > maxContentBytes:
		return apiErrorf(codeInvalidValue, "Content is longer than %d bytes after encoding", maxContentBytes)
	case !typeOK:
		return apiErrorf(codeInvalidValue, "CommandType %q must be SHELL, POWERSHELL or BAT", inv.commandType)
	case inv.timeout < 1 || inv.timeout > maxCommandTimeout:
		return apiErrorf(codeInvalidValue, "Timeout %d must be between 1 and %d seconds", inv.timeout, maxCommandTimeout)
	case instances == 0:
		return apiErrorf(codeMissingParameter, "InstanceIds is required")
	case instances > maxCommandInstances:
		return apiErrorf(codeInvalidValue, "InstanceIds takes at most %d IDs", maxCommandInstances)
	}
	return nil
}

// commandTarget checks that a command can run on an instance now.
func (s *Sim) commandTarget(region, id, commandType string) (*instance, error) {
	if !instanceIDPattern.MatchString(id) {
		return nil, apiErrorf("InvalidInstanceId.Malformed", "the instance ID %q is malformed", id)
	}
	in := s.instanceIn(region, id)
	switch {
	case in == nil:
		return nil, apiErrorf("ResourceNotFound.InstanceNotFound", "the instance %s does not exist in %s", id, region)
	case !in.sc.Agent.Present:
		return nil, apiErrorf("ResourceUnavailable.AgentNotInstalled", "the TAT agent is not installed on %s", id)
	case !in.running():
		return nil, apiErrorf("ResourceUnavailable.InstanceStateNotRunning", "%s is %s, not RUNNING", id, in.sc.State)
	case !in.agentOnline():
		return nil, apiErrorf("ResourceUnavailable.AgentStatusNotOnline", "the TAT agent of %s is not online", id)
	case commandTypes[commandType] != environment(in.sc.OS):
		return nil, apiErrorf("InvalidParameterValue.AgentUnsupportedCommandType", "%s cannot run %s commands on %s", id, commandType, environment(in.sc.OS))
	}
	return in, nil
}

type taskJSON struct {
	InvocationID     string              `json:"InvocationId"`
	InvocationTaskID string              `json:"InvocationTaskId"`
	CommandID        string              `json:"CommandId"`
	TaskStatus       string              `json:"TaskStatus"`
	InstanceID       string              `json:"InstanceId"`
	TaskResult       taskResultJSON      `json:"TaskResult"`
	StartTime        string              `json:"StartTime"`
	EndTime          string              `json:"EndTime"`
	CreatedTime      string              `json:"CreatedTime"`
	UpdatedTime      string              `json:"UpdatedTime"`
	CommandDocument  commandDocumentJSON `json:"CommandDocument"`
	ErrorInfo        string              `json:"ErrorInfo"`
	InvocationSource string              `json:"InvocationSource"`
}

type taskResultJSON struct {
	ExitCode                 int     `json:"ExitCode"`
	Output                   *string `json:"Output,omitempty"` // absent unless HideOutput is false
	ExecStartTime            string  `json:"ExecStartTime"`
	ExecEndTime              string  `json:"ExecEndTime"`
	Dropped                  int     `json:"Dropped"`
	OutputURL                string  `json:"OutputUrl"`
	OutputUploadCOSErrorInfo string  `json:"OutputUploadCOSErrorInfo"`
}

type commandDocumentJSON struct {
	Content     string `json:"Content"`
	CommandType string `json:"CommandType"`
	Timeout     int    `json:"Timeout"`
}

func (s *Sim) describeInvocationTasks(req *request) (any, error) {
	var p struct {
		InvocationTaskIDs []string `json:"InvocationTaskIds"`
		Filters           filters  `json:"Filters"`
		Limit             int      `json:"Limit"`
		Offset            int      `json:"Offset"`
		HideOutput        *bool    `json:"HideOutput"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if len(p.InvocationTaskIDs) > 0 && len(p.Filters) > 0 {
		return nil, apiErrorf(codeInvalidParameter, "InvocationTaskIds and Filters cannot be used together")
	}
	if err := p.Filters.check(codeInvalidParameter, "invocation-id", "invocation-task-id", "instance-id", "command-id"); err != nil {
		return nil, err
	}
	type match struct {
		inv  *invocation
		task *invocationTask
	}
	var found []match
	for _, inv := range s.invocations {
		for _, t := range inv.tasks {
			values := map[string][]string{"invocation-id": {inv.id}, "invocation-task-id": {t.id}, "instance-id": {t.instanceID}, "command-id": {inv.commandID}}
			if (len(p.InvocationTaskIDs) == 0 || slices.Contains(p.InvocationTaskIDs, t.id)) && p.Filters.match(func(n string) []string { return values[n] }) {
				found = append(found, match{inv, t})
			}
		}
	}
	lo, hi, err := page(len(found), p.Offset, p.Limit, 20, 100)
	if err != nil {
		return nil, err
	}
	showOutput := p.HideOutput != nil && !*p.HideOutput // HideOutput defaults to true
	tasks := []taskJSON{}
	for _, m := range found[lo:hi] {
		tasks = append(tasks, m.task.poll(m.inv, showOutput, req.now))
	}
	return struct {
		TotalCount        int        `json:"TotalCount"`
		InvocationTaskSet []taskJSON `json:"InvocationTaskSet"`
	}{len(found), tasks}, nil
}

// poll answers one DescribeInvocationTasks look at the task.
func (t *invocationTask) poll(inv *invocation, showOutput bool, now time.Time) taskJSON {
	started := formatISO(inv.created)
	j := taskJSON{
		InvocationID: inv.id, InvocationTaskID: t.id, CommandID: inv.commandID, TaskStatus: "RUNNING",
		InstanceID: t.instanceID, StartTime: started, CreatedTime: started, UpdatedTime: formatISO(now),
		TaskResult:       taskResultJSON{ExecStartTime: started},
		CommandDocument:  commandDocumentJSON{Content: inv.content, CommandType: inv.commandType, Timeout: inv.timeout},
		InvocationSource: "USER",
	}
	if showOutput {
		j.TaskResult.Output = ptr("")
	}
	t.polls++
	if t.polls <= t.runningPolls {
		return j
	}
	ended := formatISO(inv.created.Add(commandRunTime))
	j.TaskStatus, j.EndTime, j.TaskResult.ExecEndTime = "SUCCESS", ended, ended
	if showOutput {
		j.TaskResult.Output = ptr(t.output)
	}
	return j
}
