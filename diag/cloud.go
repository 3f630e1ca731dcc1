package diag

import (
	"context"
	"time"
)

// The interfaces below are what the pipeline and the fixes need from a cloud.
// Each is small and named for the service behind it; Cloud composes them.
// diag/tencent implements them with the Tencent Cloud SDK. Every method takes
// ctx first, honours its deadline, returns an *APIError for provider failures
// and records itself with RecordCall.

// InstanceAPI looks instances up (cvm).
type InstanceAPI interface {
	// FindInstances returns the instances in region matching q (cvm:DescribeInstances).
	// An empty result and a nil error mean "no such instance in this region".
	FindInstances(ctx context.Context, region string, q InstanceQuery) ([]Instance, error)
	// ImagePlatform returns an image's platform, e.g. "Windows" or "CentOS"
	// (cvm:DescribeImages). Used only when an instance's OsName is empty.
	ImagePlatform(ctx context.Context, region, imageID string) (string, error)
}

// BillingAPI reads the account balance (billing).
type BillingAPI interface {
	// AccountBalance returns the account's balance (billing:DescribeAccountBalance).
	AccountBalance(ctx context.Context) (AccountBalance, error)
}

// NetworkAPI reads public addresses and security groups (vpc).
type NetworkAPI interface {
	// Addresses returns the public IPs and EIPs among ips, of every address
	// type (AddressTypes; vpc:DescribeAddresses).
	Addresses(ctx context.Context, region string, ips []string) ([]Address, error)
	// SecurityGroupPolicies returns a group's rules and version
	// (vpc:DescribeSecurityGroupPolicies).
	SecurityGroupPolicies(ctx context.Context, region, groupID string) (SecurityGroupPolicies, error)
	TemplateAPI
}

// TemplateAPI reads the parameter templates that security-group rules refer
// to (vpc). Each returns the templates among ids that exist; an ID missing
// from the result is a template that does not exist.
type TemplateAPI interface {
	// AddressTemplates returns IP address templates, ipm-
	// (vpc:DescribeAddressTemplates).
	AddressTemplates(ctx context.Context, region string, ids []string) ([]AddressTemplate, error)
	// AddressTemplateGroups returns IP address template groups, ipmg-
	// (vpc:DescribeAddressTemplateGroups).
	AddressTemplateGroups(ctx context.Context, region string, ids []string) ([]TemplateGroup, error)
	// ServiceTemplates returns protocol port templates, ppm-
	// (vpc:DescribeServiceTemplates).
	ServiceTemplates(ctx context.Context, region string, ids []string) ([]ServiceTemplate, error)
	// ServiceTemplateGroups returns protocol port template groups, ppmg-
	// (vpc:DescribeServiceTemplateGroups).
	ServiceTemplateGroups(ctx context.Context, region string, ids []string) ([]TemplateGroup, error)
}

// DDoSAPI reads the basic DDoS protection state (antiddos).
type DDoSAPI interface {
	// BasicDeviceStatus maps each IP to its status code: "1" blocked (black
	// hole), "2" normal, "3" under attack (antiddos:DescribeBasicDeviceStatus).
	BasicDeviceStatus(ctx context.Context, region string, ips []string) (map[string]string, error)
}

// MonitorAPI reads Cloud Monitor metrics (monitor).
type MonitorAPI interface {
	// MetricData returns one instance's series for a QCE/CVM metric
	// (monitor:GetMonitorData). No points is not an error.
	MetricData(ctx context.Context, region string, q MetricQuery) (MetricSeries, error)
}

// GuestAPI runs read-only commands inside the guest through TAT (tat).
type GuestAPI interface {
	// AgentStatus returns the TAT agent's status; Found is false when the
	// instance has no agent record (tat:DescribeAutomationAgentStatus).
	AgentStatus(ctx context.Context, region, instanceID string) (Agent, error)
	// RunCommand starts a command and returns its invocation ID (tat:RunCommand).
	RunCommand(ctx context.Context, region string, cmd Command) (string, error)
	// InvocationTasks returns the tasks of an invocation, with decoded output
	// (tat:DescribeInvocationTasks with HideOutput false).
	InvocationTasks(ctx context.Context, region, invocationID string) ([]InvocationTask, error)
}

// Cloud is everything the diagnosis pipeline reads.
type Cloud interface {
	InstanceAPI
	BillingAPI
	NetworkAPI
	DDoSAPI
	MonitorAPI
	GuestAPI
}

// FixAPI is what fix actions change (design.md B5). None of these calls is
// idempotent by itself; callers guarantee one execution per approved request.
type FixAPI interface {
	// CreateIngressPolicies inserts rules at PolicyIndex 0 of a group's ingress
	// (vpc:CreateSecurityGroupPolicies). version is the group's policy version
	// as read; a mismatch fails with KindConflict. It returns the request ID.
	CreateIngressPolicies(ctx context.Context, region, groupID, version string, rules []SecurityGroupPolicy) (string, error)
	// DeleteIngressPolicies deletes ingress rules by PolicyIndex
	// (vpc:DeleteSecurityGroupPolicies), guarded by version like the above.
	DeleteIngressPolicies(ctx context.Context, region, groupID, version string, indexes []int) (string, error)
	// RebootInstance reboots with StopType SOFT_FIRST (cvm:RebootInstances).
	RebootInstance(ctx context.Context, region, instanceID string) (string, error)
	// StartInstance starts a stopped instance (cvm:StartInstances).
	StartInstance(ctx context.Context, region, instanceID string) (string, error)
}

// InstanceQuery selects instances. Exactly one field is set.
type InstanceQuery struct {
	ID       string // InstanceIds
	PublicIP string // Filter public-ip-address
	Name     string // Filter instance-name
}

// Instance is what DescribeInstances says about an instance, in domain terms.
type Instance struct {
	ID                       string
	Name                     string
	Zone                     string
	State                    string // InstanceState: RUNNING, STOPPED, ...
	RestrictState            string // NORMAL, EXPIRED, PROTECTIVELY_ISOLATED
	IsolatedSource           string // ARREAR, EXPIRE, MANMADE, NOTISOLATED
	ChargeType               string // InstanceChargeType
	RenewFlag                string // NOTIFY_AND_AUTO_RENEW, NOTIFY_AND_MANUAL_RENEW, ...
	ExpiredTime              *time.Time
	OSName                   string
	ImageID                  string
	PublicIPs                []string
	PublicIPv6s              []string // PublicIPv6Addresses
	PrivateIPs               []string
	BandwidthOutMbps         int64 // InternetAccessible.InternetMaxBandwidthOut
	InternetChargeType       string
	SecurityGroupIDs         []string // in the order the API returns them
	VpcID                    string
	DefaultLoginPort         int
	DefaultLoginUser         string
	LatestOperation          string
	LatestOperationState     string // SUCCESS, OPERATING, FAILED
	LatestOperationRequestID string
	LatestOperationErrorMsg  string
	Tags                     map[string]string // the instance's tags, key to value
}

// AccountBalance is the account's balance, as DescribeAccountBalance
// reports it. Amounts are in the account's currency's smallest unit (分 on
// the China site); they are private to the account owner and never go into a
// finding.
type AccountBalance struct {
	RealBalance       float64 // available balance; negative when owing
	OweAmount         float64 // amount in arrears
	CreditAmount      float64 // credit line
	RealCreditBalance float64 // credit still available
	AllowArrears      bool    // IsAllowArrears (deprecated field): may consume while owing
}

// Address is a public IP or EIP as the VPC service sees it.
type Address struct {
	IP         string
	ID         string
	Type       string // one of AddressTypes
	Status     string // BIND, UNBIND, ...
	InstanceID string
	IsBlocked  bool // black-holed
	IsArrears  bool // isolated for arrears
}

// AddressTypes are the public address types of DescribeAddresses' address-type
// filter. Without the filter the API leaves WanIP out; the adapter asks for
// all of them.
var AddressTypes = []string{"WanIP", "EIP", "AnycastEIP", "HighQualityEIP", "AntiDDoSEIP", "ResidentialEIP"}

// AddressTemplate is an IP address template (ipm-): IPs, CIDR blocks and IP
// ranges ("10.0.0.1-10.0.0.100"), of either family.
type AddressTemplate struct {
	ID        string
	Addresses []string
}

// ServiceTemplate is a protocol port template (ppm-): entries such as
// "tcp:22", "TCP:80,443", "udp:1000-2000", "icmp" or "ALL".
type ServiceTemplate struct {
	ID       string
	Services []string
}

// TemplateGroup is an address (ipmg-) or service (ppmg-) template group: the
// IDs of its member templates.
type TemplateGroup struct {
	ID      string
	Members []string
}

// Templates are resolved templates, by ID: groups are flattened into the
// entries of their members.
type Templates struct {
	Addresses map[string][]string // ipm- and ipmg- IDs
	Services  map[string][]string // ppm- and ppmg- IDs
}

// SecurityGroupPolicies is a security group's rule set.
type SecurityGroupPolicies struct {
	GroupID string
	Version string
	Ingress []SecurityGroupPolicy
	Egress  []SecurityGroupPolicy
}

// SecurityGroupPolicy is one security-group rule. A rule's source is exactly
// one of CidrBlock, Ipv6CidrBlock, SourceGroupID or AddressTemplate.
type SecurityGroupPolicy struct {
	Index           int
	Protocol        string // TCP, UDP, ICMP, ICMPv6, ALL (any case)
	Port            string // ALL, "22", "20-25", "22,80"
	ServiceTemplate string // a service template ID (ppm-/ppmg-); replaces Protocol and Port
	CidrBlock       string
	Ipv6CidrBlock   string
	SourceGroupID   string // a referenced security group (sg-)
	AddressTemplate string // an address template ID (ipm-/ipmg-)
	Action          string // ACCEPT or DROP (any case)
	Description     string
}

// MetricQuery asks for one QCE/CVM metric of one instance.
type MetricQuery struct {
	Metric     string // CPUUsage, MemUsage, WanOuttraffic, ...
	InstanceID string
	Period     time.Duration // 60s or 300s
	Start, End time.Time
}

// MetricSeries is a metric's points, oldest first.
type MetricSeries struct {
	Metric     string
	Period     time.Duration
	Timestamps []time.Time
	Values     []float64
}

// Agent is a TAT agent's status.
type Agent struct {
	Found         bool
	Status        string // Online, Offline
	Environment   string // Linux, Windows
	Version       string
	LastHeartbeat string
}

// Command is an in-guest command to run through TAT.
type Command struct {
	InstanceID string
	Type       string // SHELL or POWERSHELL
	Script     string // plain text; the adapter encodes it
	Timeout    time.Duration
	Name       string
}

// InvocationTask is one instance's run of a TAT command.
type InvocationTask struct {
	TaskID     string
	InstanceID string
	Status     string // PENDING, RUNNING, SUCCESS, FAILED, TIMEOUT, ...
	ExitCode   int64
	Output     string // decoded
	ErrorInfo  string
}
