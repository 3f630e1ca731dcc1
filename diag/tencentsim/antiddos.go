package tencentsim

import "net/netip"

type keyValueJSON struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// describeBasicDeviceStatus answers the basic DDoS protection status of the
// scenario IPs among IpList: "1" blocked, "2" normal, "3" under attack. IPs
// that belong to no instance are left out.
func (s *Sim) describeBasicDeviceStatus(req *request) (any, error) {
	var p struct {
		IPList         []string `json:"IpList"`
		IDList         ignored  `json:"IdList"`
		FilterRegion   ignored  `json:"FilterRegion"`
		CnameWafIDList ignored  `json:"CnameWafIdList"`
	}
	if err := decodeParams(req, &p); err != nil {
		return nil, err
	}
	data := []keyValueJSON{}
	for _, ip := range p.IPList {
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, apiErrorf(codeInvalidValue, "IpList: %q is not an IP address", ip)
		}
		if in := s.instanceWithPublicIP(ip); in != nil {
			data = append(data, keyValueJSON{Key: ip, Value: in.sc.DDoSStatus})
		}
	}
	return struct {
		Data         []keyValueJSON `json:"Data"`
		CLBData      []keyValueJSON `json:"CLBData"`
		CnameWafData []keyValueJSON `json:"CnameWafData"`
	}{data, []keyValueJSON{}, []keyValueJSON{}}, nil
}

// instanceWithPublicIP finds the instance, in any region, that owns ip.
func (s *Sim) instanceWithPublicIP(ip string) *instance {
	for _, in := range s.instances {
		if in.hasPublicIP(ip) {
			return in
		}
	}
	return nil
}
