package tencentsim

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
)

// maxInstanceIDs is the most InstanceIds a cvm request takes.
const maxInstanceIDs = 100

// instanceJSON is a DescribeInstances InstanceSet entry.
type instanceJSON struct {
	InstanceID               string                 `json:"InstanceId"`
	InstanceName             string                 `json:"InstanceName"`
	InstanceType             string                 `json:"InstanceType"`
	InstanceState            string                 `json:"InstanceState"`
	RestrictState            string                 `json:"RestrictState"`
	IsolatedSource           string                 `json:"IsolatedSource"`
	InstanceChargeType       string                 `json:"InstanceChargeType"`
	CreatedTime              string                 `json:"CreatedTime"`
	ExpiredTime              *string                `json:"ExpiredTime"`
	RenewFlag                *string                `json:"RenewFlag"`
	OsName                   string                 `json:"OsName"`
	ImageID                  string                 `json:"ImageId"`
	Placement                placementJSON          `json:"Placement"`
	PublicIPAddresses        []string               `json:"PublicIpAddresses"`
	PrivateIPAddresses       []string               `json:"PrivateIpAddresses"`
	IPv6Addresses            []string               `json:"IPv6Addresses"`
	PublicIPv6Addresses      []string               `json:"PublicIPv6Addresses"`
	InternetAccessible       internetAccessibleJSON `json:"InternetAccessible"`
	SecurityGroupIDs         []string               `json:"SecurityGroupIds"`
	VirtualPrivateCloud      vpcJSON                `json:"VirtualPrivateCloud"`
	LatestOperation          *string                `json:"LatestOperation"`
	LatestOperationState     *string                `json:"LatestOperationState"`
	LatestOperationRequestID *string                `json:"LatestOperationRequestId"`
	LatestOperationErrorMsg  *string                `json:"LatestOperationErrorMsg"`
	DefaultLoginPort         int                    `json:"DefaultLoginPort"`
	DefaultLoginUser         string                 `json:"DefaultLoginUser"`
	Tags                     []tagJSON              `json:"Tags"`
}

type placementJSON struct {
	Zone      string `json:"Zone"`
	ProjectID int    `json:"ProjectId"`
}

type internetAccessibleJSON struct {
	InternetMaxBandwidthOut int64  `json:"InternetMaxBandwidthOut"`
	InternetChargeType      string `json:"InternetChargeType"`
}

type vpcJSON struct {
	VpcID        string `json:"VpcId"`
	SubnetID     string `json:"SubnetId"`
	AsVpcGateway bool   `json:"AsVpcGateway"`
}

func (s *Sim) describeInstances(req *request) (any, error) {
	var p struct {
		InstanceIDs []string `json:"InstanceIds"`
		Filters     filters  `json:"Filters"`
		Offset      int      `json:"Offset"`
		Limit       int      `json:"Limit"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if err := checkInstanceIDs(p.InstanceIDs, false); err != nil {
		return nil, err
	}
	if len(p.InstanceIDs) > 0 && len(p.Filters) > 0 {
		return nil, apiErrorf("InvalidParameterCombination", "InstanceIds and Filters cannot be used together")
	}
	if err := p.Filters.check("InvalidFilter", "instance-id", "instance-name", "instance-state", "public-ip-address", "private-ip-address", "zone"); err != nil {
		return nil, err
	}
	var found []instanceJSON
	var matched []*instance
	for _, in := range s.instancesIn(req.region) {
		if (len(p.InstanceIDs) == 0 || slices.Contains(p.InstanceIDs, in.sc.ID)) && p.Filters.match(in.filterValues) {
			found, matched = append(found, in.describe()), append(matched, in)
		}
	}
	if len(matched) == 1 {
		s.focus = matched[0]
	}
	lo, hi, err := page(len(found), p.Offset, p.Limit, 20, maxInstanceIDs)
	if err != nil {
		return nil, err
	}
	return struct {
		TotalCount  int            `json:"TotalCount"`
		InstanceSet []instanceJSON `json:"InstanceSet"`
	}{len(found), append([]instanceJSON{}, found[lo:hi]...)}, nil
}

// filterValues is what DescribeInstances filters match an instance by.
func (in *instance) filterValues(name string) []string {
	switch name {
	case "instance-id":
		return []string{in.sc.ID}
	case "instance-name":
		return []string{in.sc.Name}
	case "instance-state":
		return []string{in.sc.State}
	case "public-ip-address":
		return slices.Concat(in.sc.PublicIPs, in.sc.PublicIPv6s)
	case "private-ip-address":
		return in.sc.PrivateIPs
	case "zone":
		return []string{in.sc.Zone}
	}
	return nil
}

// checkInstanceIDs rejects malformed or too many instance IDs; required
// says there must be at least one.
func checkInstanceIDs(ids []string, required bool) error {
	switch {
	case required && len(ids) == 0:
		return apiErrorf(codeMissingParameter, "InstanceIds is required")
	case len(ids) > maxInstanceIDs:
		return apiErrorf(codeInvalidValue, "InstanceIds takes at most %d IDs", maxInstanceIDs)
	}
	for _, id := range ids {
		if !instanceIDPattern.MatchString(id) {
			return apiErrorf("InvalidInstanceId.Malformed", "the instance ID %q is malformed: it is \"ins-\" and 8 lowercase letters or digits", id)
		}
	}
	return nil
}

func (s *Sim) instancesIn(region string) []*instance {
	var out []*instance
	for _, in := range s.instances {
		if in.sc.Region == region {
			out = append(out, in)
		}
	}
	return out
}

// describe is the instance as DescribeInstances returns it.
func (in *instance) describe() instanceJSON {
	sc := in.sc
	j := instanceJSON{
		InstanceID: sc.ID, InstanceName: sc.Name, InstanceType: "S5.MEDIUM4",
		InstanceState: sc.State, RestrictState: sc.RestrictState, IsolatedSource: sc.IsolatedSource,
		InstanceChargeType: sc.ChargeType, CreatedTime: formatISO(in.created),
		OsName: sc.OsName, ImageID: imageID(sc.OsName),
		Placement:          placementJSON{Zone: sc.Zone},
		PublicIPAddresses:  slices.Clone(sc.PublicIPs),
		PrivateIPAddresses: slices.Clone(sc.PrivateIPs),
		InternetAccessible: internetAccessibleJSON{InternetMaxBandwidthOut: sc.BandwidthOutMbps, InternetChargeType: "TRAFFIC_POSTPAID_BY_HOUR"},
		SecurityGroupIDs:   slices.Clone(in.groupIDs),
		VirtualPrivateCloud: vpcJSON{
			VpcID: "vpc-" + sc.ID[len("ins-"):], SubnetID: "subnet-" + sc.ID[len("ins-"):],
		},
		DefaultLoginPort: sc.LoginPort,
		DefaultLoginUser: "root",
		// A simulated IPv6 address is public: it has public bandwidth.
		IPv6Addresses:       nonNilStrings(sc.PublicIPv6s),
		PublicIPv6Addresses: nonNilStrings(sc.PublicIPv6s),
	}
	j.Tags = []tagJSON{}
	for _, key := range slices.Sorted(maps.Keys(sc.Tags)) {
		j.Tags = append(j.Tags, tagJSON{Key: key, Value: sc.Tags[key]})
	}
	if sc.RenewFlag != "" {
		j.RenewFlag = ptr(sc.RenewFlag)
	}
	if sc.OS == osWindows {
		j.DefaultLoginUser = "Administrator"
	}
	if sc.ExpiredTime != nil {
		j.ExpiredTime = ptr(formatISO(*sc.ExpiredTime))
	}
	if in.op.name != "" {
		j.LatestOperation, j.LatestOperationState, j.LatestOperationRequestID = ptr(in.op.name), ptr(in.op.state), ptr(in.op.requestID)
	}
	return j
}

// imageID is the simulated public image of an OS name.
func imageID(osName string) string {
	sum := sha256.Sum256([]byte(osName))
	return "img-" + hex.EncodeToString(sum[:4])
}

// imageJSON is a DescribeImages ImageSet entry.
type imageJSON struct {
	ImageID      string `json:"ImageId"`
	OsName       string `json:"OsName"`
	ImageName    string `json:"ImageName"`
	ImageType    string `json:"ImageType"`
	Platform     string `json:"Platform"`
	Architecture string `json:"Architecture"`
	ImageState   string `json:"ImageState"`
}

func (s *Sim) describeImages(req *request) (any, error) {
	var p struct {
		ImageIDs     []string `json:"ImageIds"`
		Filters      filters  `json:"Filters"`
		Offset       int      `json:"Offset"`
		Limit        int      `json:"Limit"`
		InstanceType ignored  `json:"InstanceType"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if len(p.ImageIDs) > 0 && len(p.Filters) > 0 {
		return nil, apiErrorf("InvalidParameterCombination", "ImageIds and Filters cannot be used together")
	}
	if err := p.Filters.check("InvalidFilter", "image-id", "platform", "image-type"); err != nil {
		return nil, err
	}
	var found []imageJSON
	for _, img := range s.imagesIn(req.region) {
		values := map[string][]string{"image-id": {img.ImageID}, "platform": {img.Platform}, "image-type": {img.ImageType}}
		if (len(p.ImageIDs) == 0 || slices.Contains(p.ImageIDs, img.ImageID)) && p.Filters.match(func(n string) []string { return values[n] }) {
			found = append(found, img)
		}
	}
	lo, hi, err := page(len(found), p.Offset, p.Limit, 20, 100)
	if err != nil {
		return nil, err
	}
	return struct {
		TotalCount int         `json:"TotalCount"`
		ImageSet   []imageJSON `json:"ImageSet"`
	}{len(found), append([]imageJSON{}, found[lo:hi]...)}, nil
}

// imagesIn returns the public images the region's instances run, one per OS name.
func (s *Sim) imagesIn(region string) []imageJSON {
	var images []imageJSON
	for _, in := range s.instancesIn(region) {
		id := imageID(in.sc.OsName)
		if slices.ContainsFunc(images, func(i imageJSON) bool { return i.ImageID == id }) {
			continue
		}
		platform, _, _ := strings.Cut(in.sc.OsName, " ")
		images = append(images, imageJSON{ImageID: id, OsName: in.sc.OsName, ImageName: in.sc.OsName,
			ImageType: "PUBLIC_IMAGE", Platform: platform, Architecture: "x86_64", ImageState: "NORMAL"})
	}
	return images
}

// stateChange is what an operation does to an instance.
type stateChange struct {
	name       string // the action, LatestOperation
	from       string // the state it requires
	transition string // the state while it runs
	to         string // the state when done
	boots      bool
}

var (
	opReboot = stateChange{name: "RebootInstances", from: stateRunning, transition: "REBOOTING", to: stateRunning, boots: true}
	opStart  = stateChange{name: "StartInstances", from: "STOPPED", transition: "STARTING", to: stateRunning, boots: true}
	opStop   = stateChange{name: "StopInstances", from: stateRunning, transition: "STOPPING", to: "STOPPED"}
)

func (s *Sim) rebootInstances(req *request) (any, error) {
	var p struct {
		InstanceIDs []string `json:"InstanceIds"`
		StopType    string   `json:"StopType"`
		ForceReboot *bool    `json:"ForceReboot"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if p.ForceReboot != nil && p.StopType != "" {
		return nil, apiErrorf("InvalidParameterCombination", "ForceReboot cannot be used with StopType")
	}
	return s.changeState(req, p.InstanceIDs, p.StopType, opReboot)
}

func (s *Sim) startInstances(req *request) (any, error) {
	var p struct {
		InstanceIDs []string `json:"InstanceIds"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	return s.changeState(req, p.InstanceIDs, "", opStart)
}

func (s *Sim) stopInstances(req *request) (any, error) {
	var p struct {
		InstanceIDs []string `json:"InstanceIds"`
		StopType    string   `json:"StopType"`
		ForceStop   ignored  `json:"ForceStop"`
		StoppedMode ignored  `json:"StoppedMode"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	return s.changeState(req, p.InstanceIDs, p.StopType, opStop)
}

// changeState starts an operation on every instance, or on none if one of
// them cannot take it.
func (s *Sim) changeState(req *request, ids []string, stopType string, change stateChange) (any, error) {
	if err := checkInstanceIDs(ids, true); err != nil {
		return nil, err
	}
	if !slices.Contains([]string{"", "SOFT", "HARD", "SOFT_FIRST"}, stopType) {
		return nil, apiErrorf(codeInvalidValue, "StopType %q must be SOFT, HARD or SOFT_FIRST", stopType)
	}
	targets := make([]*instance, len(ids))
	for i, id := range ids {
		in := s.instanceIn(req.region, id)
		switch {
		case in == nil:
			return nil, apiErrorf("InvalidInstanceId.NotFound", "the instance %s does not exist in %s", id, req.region)
		case in.sc.State != change.from:
			return nil, apiErrorf("UnsupportedOperation.InstanceState"+pascalCase(in.sc.State),
				"%s cannot run on %s: it is %s, not %s", change.name, id, in.sc.State, change.from)
		}
		targets[i] = in
	}
	for _, in := range targets {
		in.sc.State = change.transition
		in.op = operation{name: change.name, requestID: req.requestID, state: opOperating,
			done: req.now.Add(s.rebootDuration), target: change.to, boots: change.boots}
	}
	return struct{}{}, nil
}

func (s *Sim) instanceIn(region, id string) *instance {
	for _, in := range s.instancesIn(region) {
		if in.sc.ID == id {
			return in
		}
	}
	return nil
}

// pascalCase turns an enum such as ENTER_RESCUE_MODE into EnterRescueMode,
// as error codes spell states.
func pascalCase(enum string) string {
	var b strings.Builder
	for word := range strings.SplitSeq(strings.ToLower(enum), "_") {
		if word != "" {
			b.WriteString(strings.ToUpper(word[:1]) + word[1:])
		}
	}
	return b.String()
}
