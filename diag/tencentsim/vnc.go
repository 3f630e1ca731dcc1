package tencentsim

// describeInstanceVncURL answers DescribeInstanceVncUrl: a one-time
// websocket address, refused for a stopped instance as the API documents
// (https://www.tencentcloud.com/document/api/213/33259). The host is not a
// real one: the product only builds a console link from it.
func (s *Sim) describeInstanceVncURL(req *request) (any, error) {
	var p struct {
		InstanceID string `json:"InstanceId"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	if err := checkInstanceIDs([]string{p.InstanceID}, true); err != nil {
		return nil, err
	}
	in := s.instanceIn(req.region, p.InstanceID)
	switch {
	case in == nil:
		return nil, apiErrorf("InvalidInstanceId.NotFound", "the instance %s does not exist in %s", p.InstanceID, req.region)
	case in.sc.State == "STOPPED":
		return nil, apiErrorf("UnsupportedOperation.InstanceStateStopped", "VNC is not available for a STOPPED instance")
	}
	return struct {
		InstanceVncURL string `json:"InstanceVncUrl"`
	}{"wss://vnc.tencentsim.invalid:26789/vnc?s=" + newID("")}, nil
}
