package tencentsim

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
)

// TestActions exercises every action's happy path and its documented
// errors, each on a fresh Sim with the built-in scenarios.
func TestActions(t *testing.T) {
	script := base64.StdEncoding.EncodeToString([]byte("echo hi"))
	tests := []struct {
		name            string
		service, action string
		params          string
		wantCode        string
		want            map[string]string // field path → value
	}{
		// Routing and parameters, common to every action.
		{"unknown action", "cvm", "TerminateInstances", `{}`, "InvalidAction", nil},
		{"unknown service", "sts", "AssumeRole", `{}`, "NoSuchProduct", nil},
		{"unknown parameter", "cvm", "DescribeInstances", `{"InstanceIDs":["ins-linux001"]}`, codeUnknownParameter, nil},
		{"parameter of the wrong type", "cvm", "DescribeInstances", `{"InstanceIds":"ins-linux001"}`, codeInvalidParameter, nil},

		// cvm
		{"DescribeInstances by ID", "cvm", "DescribeInstances", `{"InstanceIds":["ins-linux001"]}`, "", map[string]string{
			"TotalCount": "1", "InstanceSet.0.InstanceId": "ins-linux001", "InstanceSet.0.InstanceName": "web-1",
			"InstanceSet.0.InstanceState": "RUNNING", "InstanceSet.0.RestrictState": "NORMAL",
			"InstanceSet.0.IsolatedSource": "NOTISOLATED", "InstanceSet.0.InstanceChargeType": "POSTPAID_BY_HOUR",
			"InstanceSet.0.ExpiredTime": "<nil>", "InstanceSet.0.OsName": "CentOS 7.6 64bit",
			"InstanceSet.0.Placement.Zone": "ap-guangzhou-3", "InstanceSet.0.PublicIpAddresses": "[127.0.0.11]",
			"InstanceSet.0.InternetAccessible.InternetMaxBandwidthOut": "5", "InstanceSet.0.SecurityGroupIds": "[sg-linux001]",
			"InstanceSet.0.VirtualPrivateCloud.VpcId": "vpc-linux001", "InstanceSet.0.LatestOperation": "<nil>",
			"InstanceSet.0.DefaultLoginPort": "22", "InstanceSet.0.DefaultLoginUser": "root",
		}},
		{"DescribeInstances by public IP", "cvm", "DescribeInstances",
			`{"Filters":[{"Name":"public-ip-address","Values":["127.0.0.12"]}]}`, "", map[string]string{
				"TotalCount": "1", "InstanceSet.0.InstanceId": "ins-win00001", "InstanceSet.0.DefaultLoginPort": "3389",
			}},
		{"DescribeInstances by name", "cvm", "DescribeInstances",
			`{"Filters":[{"Name":"instance-name","Values":["cpuhigh-1"]}]}`, "", map[string]string{"InstanceSet.0.InstanceId": "ins-cpuhigh1"}},
		{"DescribeInstances no public IP is null", "cvm", "DescribeInstances", `{"InstanceIds":["ins-nopubip1"]}`, "",
			map[string]string{"InstanceSet.0.PublicIpAddresses": "<nil>"}},
		{"DescribeInstances expired", "cvm", "DescribeInstances", `{"InstanceIds":["ins-expired1"]}`, "",
			map[string]string{"InstanceSet.0.ExpiredTime": "2025-01-01T00:00:00Z", "InstanceSet.0.InstanceState": "SHUTDOWN"}},
		{"DescribeInstances unknown ID is empty", "cvm", "DescribeInstances", `{"InstanceIds":["ins-zzzzzzzz"]}`, "",
			map[string]string{"TotalCount": "0", "InstanceSet": "[]"}},
		{"DescribeInstances paging", "cvm", "DescribeInstances", `{"Limit":2,"Offset":1}`, "",
			map[string]string{"TotalCount": "32", "InstanceSet.0.InstanceId": "ins-win00001", "InstanceSet.2": "<missing>"}},
		{"DescribeInstances malformed ID", "cvm", "DescribeInstances", `{"InstanceIds":["i-123"]}`, "InvalidInstanceId.Malformed", nil},
		{"DescribeInstances IDs with filters", "cvm", "DescribeInstances",
			`{"InstanceIds":["ins-linux001"],"Filters":[{"Name":"instance-name","Values":["web-1"]}]}`, "InvalidParameterCombination", nil},
		{"DescribeInstances unknown filter", "cvm", "DescribeInstances", `{"Filters":[{"Name":"os","Values":["x"]}]}`, "InvalidFilter", nil},
		{"DescribeImages", "cvm", "DescribeImages", `{"ImageIds":["` + imageID(windowsOsName) + `"]}`, "",
			map[string]string{"TotalCount": "1", "ImageSet.0.Platform": "Windows", "ImageSet.0.OsName": windowsOsName}},
		{"DescribeImages IDs with filters", "cvm", "DescribeImages",
			`{"ImageIds":["img-00000000"],"Filters":[{"Name":"platform","Values":["CentOS"]}]}`, "InvalidParameterCombination", nil},
		{"RebootInstances", "cvm", "RebootInstances", `{"InstanceIds":["ins-linux001"],"StopType":"SOFT_FIRST"}`, "", nil},
		{"RebootInstances stopped", "cvm", "RebootInstances", `{"InstanceIds":["ins-stopped1"]}`, "UnsupportedOperation.InstanceStateStopped", nil},
		{"RebootInstances unknown", "cvm", "RebootInstances", `{"InstanceIds":["ins-zzzzzzzz"]}`, "InvalidInstanceId.NotFound", nil},
		{"RebootInstances bad StopType", "cvm", "RebootInstances", `{"InstanceIds":["ins-linux001"],"StopType":"NOW"}`, codeInvalidValue, nil},
		{"StartInstances", "cvm", "StartInstances", `{"InstanceIds":["ins-stopped1"]}`, "", nil},
		{"StartInstances running", "cvm", "StartInstances", `{"InstanceIds":["ins-linux001"]}`, "UnsupportedOperation.InstanceStateRunning", nil},
		{"StartInstances shut down", "cvm", "StartInstances", `{"InstanceIds":["ins-expired1"]}`, "UnsupportedOperation.InstanceStateShutdown", nil},
		{"StopInstances", "cvm", "StopInstances", `{"InstanceIds":["ins-linux001"]}`, "", nil},
		{"StopInstances without IDs", "cvm", "StopInstances", `{}`, codeMissingParameter, nil},

		// vpc
		{"DescribeAddresses WanIP", "vpc", "DescribeAddresses",
			`{"Filters":[{"Name":"address-ip","Values":["127.0.0.19"]},{"Name":"address-type","Values":["WanIP","EIP"]}]}`, "",
			map[string]string{"TotalCount": "1", "AddressSet.0.AddressIp": "127.0.0.19", "AddressSet.0.IsBlocked": "true",
				"AddressSet.0.InstanceId": "ins-blocked1", "AddressSet.0.AddressType": "WanIP", "AddressSet.0.AddressStatus": "BIND"}},
		{"DescribeAddresses unknown filter", "vpc", "DescribeAddresses", `{"Filters":[{"Name":"colour","Values":["red"]}]}`, codeBadFilter, nil},
		{"DescribeSecurityGroupPolicies", "vpc", "DescribeSecurityGroupPolicies", `{"SecurityGroupId":"sg-linux001"}`, "",
			map[string]string{"SecurityGroupPolicySet.Version": "1",
				"SecurityGroupPolicySet.Ingress.0.PolicyIndex": "0", "SecurityGroupPolicySet.Ingress.0.Protocol": "TCP",
				"SecurityGroupPolicySet.Ingress.0.Port": "22", "SecurityGroupPolicySet.Ingress.0.CidrBlock": "0.0.0.0/0",
				"SecurityGroupPolicySet.Ingress.0.Action": "ACCEPT", "SecurityGroupPolicySet.Ingress.0.SecurityGroupId": "",
				"SecurityGroupPolicySet.Ingress.0.ServiceTemplate.ServiceId":      "",
				"SecurityGroupPolicySet.Ingress.0.AddressTemplate.AddressGroupId": "",
				"SecurityGroupPolicySet.Ingress.1.Protocol":                       "ICMP", "SecurityGroupPolicySet.Ingress.2.Action": "DROP",
				"SecurityGroupPolicySet.Egress.0.Protocol": "ALL", "SecurityGroupPolicySet.PolicyStatistics.IngressIPv4TotalCount": "3"}},
		{"DescribeSecurityGroupPolicies unknown group", "vpc", "DescribeSecurityGroupPolicies", `{"SecurityGroupId":"sg-zzzzzzzz"}`, codeResourceNotFound, nil},
		{"CreateSecurityGroupPolicies", "vpc", "CreateSecurityGroupPolicies",
			`{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Version":"1","Ingress":[{"PolicyIndex":0,"Protocol":"TCP","Port":"80","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}]}}`, "", nil},
		{"CreateSecurityGroupPolicies Port with ICMP", "vpc", "CreateSecurityGroupPolicies",
			`{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Ingress":[{"Protocol":"ICMP","Port":"ALL","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}]}}`, codeInvalidParameter, nil},
		{"CreateSecurityGroupPolicies duplicate", "vpc", "CreateSecurityGroupPolicies",
			`{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Ingress":[{"Protocol":"tcp","Port":"22","CidrBlock":"0.0.0.0/0","Action":"accept","PolicyDescription":"login"}]}}`,
			"UnsupportedOperation.DuplicatePolicy", nil},
		{"CreateSecurityGroupPolicies both directions", "vpc", "CreateSecurityGroupPolicies",
			`{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Ingress":[{"Protocol":"TCP","Port":"80","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}],"Egress":[{"Protocol":"TCP","Port":"80","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}]}}`,
			codeInvalidParameter, nil},
		{"CreateSecurityGroupPolicies mixed PolicyIndex", "vpc", "CreateSecurityGroupPolicies",
			`{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Ingress":[{"PolicyIndex":0,"Protocol":"TCP","Port":"80","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"},{"Protocol":"TCP","Port":"81","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}]}}`,
			codeInvalidParameter, nil},
		{"CreateSecurityGroupPolicies two sources", "vpc", "CreateSecurityGroupPolicies",
			`{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Ingress":[{"Protocol":"TCP","Port":"80","CidrBlock":"0.0.0.0/0","SecurityGroupId":"sg-win00001","Action":"ACCEPT"}]}}`,
			"InvalidParameter.Coexist", nil},
		{"CreateSecurityGroupPolicies stale Version", "vpc", "CreateSecurityGroupPolicies",
			`{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Version":"7","Ingress":[{"Protocol":"TCP","Port":"80","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}]}}`,
			codeVersionMismatch, nil},
		{"CreateSecurityGroupPolicies unknown group", "vpc", "CreateSecurityGroupPolicies",
			`{"SecurityGroupId":"sg-zzzzzzzz","SecurityGroupPolicySet":{"Ingress":[{"Protocol":"TCP","Port":"80","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}]}}`,
			codeResourceNotFound, nil},
		{"DeleteSecurityGroupPolicies by index", "vpc", "DeleteSecurityGroupPolicies",
			`{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Version":1,"Ingress":[{"PolicyIndex":2}]}}`, "", nil},
		{"DeleteSecurityGroupPolicies by rule", "vpc", "DeleteSecurityGroupPolicies",
			`{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Ingress":[{"Protocol":"ICMP","CidrBlock":"0.0.0.0/0","Action":"ACCEPT"}]}}`, "", nil},
		{"DeleteSecurityGroupPolicies no such index", "vpc", "DeleteSecurityGroupPolicies",
			`{"SecurityGroupId":"sg-linux001","SecurityGroupPolicySet":{"Ingress":[{"PolicyIndex":9}]}}`, codeInvalidValue, nil},

		// monitor
		{"GetMonitorData", "monitor", "GetMonitorData", metricParams("CPUUsage", "ins-cpuhigh1", 60), "", map[string]string{
			"Period": "60", "MetricName": "CPUUsage", "DataPoints.0.Dimensions.0.Value": "ins-cpuhigh1",
			"DataPoints.0.Timestamps.9": "1773475200", "DataPoints.0.Timestamps.10": "<missing>"}},
		{"GetMonitorData no agent metrics", "monitor", "GetMonitorData", metricParams("MemUsage", "ins-stopped1", 300), "",
			map[string]string{"DataPoints.0.Timestamps": "[]", "DataPoints.0.Values": "[]"}},
		{"GetMonitorData bad period", "monitor", "GetMonitorData", metricParams("CPUUsage", "ins-linux001", 61), codeInvalidValue, nil},
		{"GetMonitorData unknown metric", "monitor", "GetMonitorData", metricParams("DiskUsage", "ins-linux001", 60), codeInvalidValue, nil},

		// billing
		{"DescribeAccountBalance", "billing", "DescribeAccountBalance", `{}`, "",
			map[string]string{"Balance": "1000000", "RealBalance": "1000000", "OweAmount": "0"}},

		// antiddos
		{"DescribeBasicDeviceStatus", "antiddos", "DescribeBasicDeviceStatus", `{"IpList":["127.0.0.19","127.0.0.11","127.0.0.99"]}`, "",
			map[string]string{"Data.0.Key": "127.0.0.19", "Data.0.Value": "1", "Data.1.Value": "2", "Data.2": "<missing>", "CLBData": "[]"}},
		{"DescribeBasicDeviceStatus bad IP", "antiddos", "DescribeBasicDeviceStatus", `{"IpList":["one.two"]}`, codeInvalidValue, nil},

		// tat
		{"DescribeAutomationAgentStatus", "tat", "DescribeAutomationAgentStatus", `{"InstanceIds":["ins-linux001","ins-agentoff","ins-win00001"]}`, "",
			map[string]string{"TotalCount": "3", "AutomationAgentSet.0.AgentStatus": "Online", "AutomationAgentSet.0.Environment": "Linux",
				"AutomationAgentSet.1.AgentStatus": "Online", "AutomationAgentSet.1.Environment": "Windows",
				"AutomationAgentSet.2.InstanceId": "ins-agentoff", "AutomationAgentSet.2.AgentStatus": "Offline"}},
		{"DescribeAutomationAgentStatus stopped is offline", "tat", "DescribeAutomationAgentStatus", `{"InstanceIds":["ins-stopped1"]}`, "",
			map[string]string{"AutomationAgentSet.0.AgentStatus": "Offline"}},
		{"RunCommand", "tat", "RunCommand", `{"InstanceIds":["ins-linux001"],"CommandType":"SHELL","Content":"` + script + `","Timeout":60,"CommandName":"cvmlogin","Username":"root"}`, "", nil},
		{"RunCommand not base64", "tat", "RunCommand", `{"InstanceIds":["ins-linux001"],"Content":"echo hi"}`, codeInvalidValue, nil},
		{"RunCommand agent offline", "tat", "RunCommand", `{"InstanceIds":["ins-agentoff"],"Content":"` + script + `"}`, "ResourceUnavailable.AgentStatusNotOnline", nil},
		{"RunCommand stopped", "tat", "RunCommand", `{"InstanceIds":["ins-stopped1"],"Content":"` + script + `"}`, "ResourceUnavailable.InstanceStateNotRunning", nil},
		{"RunCommand shell on Windows", "tat", "RunCommand", `{"InstanceIds":["ins-win00001"],"Content":"` + script + `"}`, "InvalidParameterValue.AgentUnsupportedCommandType", nil},
		{"RunCommand unknown instance", "tat", "RunCommand", `{"InstanceIds":["ins-zzzzzzzz"],"Content":"` + script + `"}`, "ResourceNotFound.InstanceNotFound", nil},
		{"DescribeInvocationTasks unknown invocation", "tat", "DescribeInvocationTasks", `{"Filters":[{"Name":"invocation-id","Values":["inv-zzzzzzzz"]}]}`, "",
			map[string]string{"TotalCount": "0", "InvocationTaskSet": "[]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, client := startSim(t, newFakeClock(), Options{})
			r := client.call(tt.service, tt.action, tt.params)
			if r.code() != tt.wantCode {
				t.Fatalf("error code %q (%v), want %q", r.code(), r.Error, tt.wantCode)
			}
			for path, want := range tt.want {
				if got := field(t, r.raw, path); got != want {
					t.Errorf("%s = %s, want %s", path, got, want)
				}
			}
		})
	}
}

// metricParams asks for the 10 minutes up to the fake clock's start.
func metricParams(metric, instanceID string, period int) string {
	return strings.NewReplacer("METRIC", metric, "ID", instanceID, "PERIOD", strconv.Itoa(period)).Replace(
		`{"Namespace":"QCE/CVM","MetricName":"METRIC","Period":PERIOD,"StartTime":"2026-03-14T15:50:01+08:00",` +
			`"EndTime":"2026-03-14T16:00:00+08:00","Instances":[{"Dimensions":[{"Name":"InstanceId","Value":"ID"}]}]}`)
}
