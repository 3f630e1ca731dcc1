package tencent

import (
	"context"
	"encoding/base64"
	"math"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tat "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/tat/v20201028"

	"github.com/cvmlogin/cvmlogin/diag"
)

func (c *Client) tatClient(region string) (*tat.Client, error) {
	return serviceClient(c, "tat", region, tat.NewClient)
}

// AgentStatus returns the TAT agent's status on an instance
// (tat:DescribeAutomationAgentStatus). Found is false when the instance has
// no agent record. Queries are merged with concurrent ones (see batcher).
func (c *Client) AgentStatus(ctx context.Context, region, instanceID string) (diag.Agent, error) {
	agents, err := c.batch.agents.do(ctx, region, []string{instanceID})
	return agents[instanceID], err
}

// agentStatuses returns the TAT agents of several instances in one request,
// keyed by instance ID; instances without an agent record are missing.
func (c *Client) agentStatuses(ctx context.Context, region string, ids []string) (map[string]diag.Agent, error) {
	cli, err := c.tatClient(region)
	if err != nil {
		return nil, err
	}
	req := tat.NewDescribeAutomationAgentStatusRequest()
	req.InstanceIds = common.StringPtrs(ids)
	req.Limit = common.Uint64Ptr(batchInstances)
	resp, err := call(ctx, c, describeAutomationAgentStatus, region, cli.DescribeAutomationAgentStatusWithContext, req)
	if err != nil {
		return nil, err
	}
	agents := make(map[string]diag.Agent, len(ids))
	for _, a := range resp.Response.AutomationAgentSet {
		if a == nil {
			continue
		}
		agents[deref(a.InstanceId)] = diag.Agent{
			Found:         true,
			Status:        deref(a.AgentStatus),
			Environment:   deref(a.Environment),
			Version:       deref(a.Version),
			LastHeartbeat: deref(a.LastHeartbeatTime),
		}
	}
	return agents, nil
}

// RunCommand starts cmd's script on its instance through the TAT agent and
// returns the invocation ID (tat:RunCommand). The script is sent base64
// encoded; the timeout is rounded up to whole seconds, at least one. It is
// retried only when throttled, since a failed call may have started the
// command. Identical commands for several instances are merged into one
// invocation with concurrent ones (see batcher): InvocationTasks then
// returns the tasks of every instance in it.
func (c *Client) RunCommand(ctx context.Context, region string, cmd diag.Command) (string, error) {
	key := commandKey{region: region, typ: cmd.Type, script: cmd.Script, name: cmd.Name,
		timeout: uint64(max(1, math.Ceil(cmd.Timeout.Seconds())))}
	invocations, err := c.batch.commands.do(ctx, key, []string{cmd.InstanceID})
	if err != nil {
		return "", err
	}
	return invocations[cmd.InstanceID], nil
}

// commandKey is what commands must share to run as one invocation.
type commandKey struct {
	region, typ, script, name string
	timeout                   uint64 // seconds
}

// runCommandOn starts key's command on the instances ids in one invocation
// and maps each to its ID.
func (c *Client) runCommandOn(ctx context.Context, key commandKey, ids []string) (map[string]string, error) {
	cli, err := c.tatClient(key.region)
	if err != nil {
		return nil, err
	}
	req := tat.NewRunCommandRequest()
	req.InstanceIds = common.StringPtrs(ids)
	req.CommandType = optional(key.typ)
	req.Content = common.StringPtr(base64.StdEncoding.EncodeToString([]byte(key.script)))
	req.Timeout = common.Uint64Ptr(key.timeout)
	req.CommandName = optional(key.name)
	resp, err := call(ctx, c, runCommand, key.region, cli.RunCommandWithContext, req)
	if err != nil {
		return nil, err
	}
	if resp.Response.InvocationId == nil {
		return nil, &diag.APIError{
			Service:   runCommand.service,
			Action:    runCommand.name,
			Kind:      diag.KindUnavailable,
			Message:   "the reply has no InvocationId",
			RequestID: deref(resp.Response.RequestId),
		}
	}
	invocations := make(map[string]string, len(ids))
	for _, id := range ids {
		invocations[id] = *resp.Response.InvocationId
	}
	return invocations, nil
}

// maxInvocationTasks is how many tasks a DescribeInvocationTasks page
// holds: the API's page size limit, and the most instances a merged command
// runs on.
const maxInvocationTasks = batchInstances

// InvocationTasks returns the tasks of an invocation with their output
// decoded from base64 (tat:DescribeInvocationTasks with HideOutput false:
// the API hides output by default). Output that is not valid base64 is
// returned as sent. Polls are merged with concurrent ones, of this
// invocation and of others (see batcher).
func (c *Client) InvocationTasks(ctx context.Context, region, invocationID string) ([]diag.InvocationTask, error) {
	tasks, err := c.batch.tasks.do(ctx, region, []string{invocationID})
	return tasks[invocationID], err
}

// invocationTasks reads the tasks of several invocations, keyed by
// invocation ID, a page of maxInvocationTasks at a time.
func (c *Client) invocationTasks(ctx context.Context, region string, ids []string) (map[string][]diag.InvocationTask, error) {
	cli, err := c.tatClient(region)
	if err != nil {
		return nil, err
	}
	tasks := make(map[string][]diag.InvocationTask, len(ids))
	for offset := uint64(0); ; {
		req := tat.NewDescribeInvocationTasksRequest()
		req.Filters = []*tat.Filter{{Name: common.StringPtr("invocation-id"), Values: common.StringPtrs(ids)}}
		req.HideOutput = common.BoolPtr(false)
		req.Limit = common.Uint64Ptr(maxInvocationTasks)
		if offset > 0 {
			req.Offset = common.Uint64Ptr(offset)
		}
		resp, err := call(ctx, c, describeInvocationTasks, region, cli.DescribeInvocationTasksWithContext, req)
		if err != nil {
			return nil, err
		}
		page := resp.Response.InvocationTaskSet
		for _, t := range page {
			if t != nil {
				tasks[deref(t.InvocationId)] = append(tasks[deref(t.InvocationId)], taskFrom(t))
			}
		}
		offset += uint64(len(page))
		if len(page) == 0 || offset >= deref(resp.Response.TotalCount) {
			return tasks, nil
		}
	}
}

// taskFrom converts an SDK invocation task.
func taskFrom(t *tat.InvocationTask) diag.InvocationTask {
	task := diag.InvocationTask{
		TaskID:     deref(t.InvocationTaskId),
		InstanceID: deref(t.InstanceId),
		Status:     deref(t.TaskStatus),
		ErrorInfo:  deref(t.ErrorInfo),
	}
	if r := t.TaskResult; r != nil {
		task.ExitCode = deref(r.ExitCode)
		task.Output = decodeOutput(deref(r.Output))
	}
	return task
}

// decodeOutput decodes a task's base64 output, or returns it as is if it is
// not base64.
func decodeOutput(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return s
	}
	return string(b)
}
