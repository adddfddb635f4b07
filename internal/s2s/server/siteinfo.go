package server

import (
	"net/http"
)

// siteToSite answers GET /site-to-site: the controller and its public
// ports. Like NiFi it needs no version header, and leaves out
// remoteSiteHttpListeningPort without one (pre-1.0 clients read JSON
// strictly); unlike /peers it sets no common headers.
func (s *Server) siteToSite(w http.ResponseWriter, r *http.Request) {
	dto := ControllerDTO{
		ID: s.ctrl.ID, Name: s.ctrl.Name, Comments: s.ctrl.Comments, InstanceID: s.ctrl.InstanceID,
		SiteToSiteSecure: s.ctrl.Secure,
		InputPorts:       []PortDTO{},
		OutputPorts:      []PortDTO{},
	}
	for _, p := range s.ports.Ports() {
		d := PortDTO{ID: p.ID, Name: p.Name, Comments: p.Comments, State: p.State}
		if p.Type == InputPort {
			dto.InputPorts = append(dto.InputPorts, d)
			dto.InputPortCount++
		} else {
			dto.OutputPorts = append(dto.OutputPorts, d)
			dto.OutputPortCount++
		}
		switch p.State {
		case Running:
			dto.RunningCount++
		case Stopped:
			dto.StoppedCount++
		case Disabled:
			dto.DisabledCount++
		}
	}
	if r.Header.Get(HeaderProtocolVersion) != "" {
		port := s.ctrl.HTTPPort
		if port == 0 {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			_, port = requestHostPort(r, scheme)
		}
		dto.RemoteSiteHTTPListeningPort = &port
	}
	noCache(w)
	writeJSON(w, http.StatusOK, ControllerEntity{Controller: dto})
}

// listPeers answers GET /site-to-site/peers. It never sends an empty list:
// NiFi's client takes one as a failure of this node, so a 503 says the same
// more plainly.
func (s *Server) listPeers(w http.ResponseWriter, r *http.Request) {
	version, ok := negotiateVersion(w, r)
	if !ok {
		return
	}
	peers, err := s.peers.Peers(r.Context())
	if err != nil {
		s.log.Warn("site-to-site peers unavailable", "err", err)
		writeText(w, http.StatusServiceUnavailable, "Unable to list site-to-site peers: "+err.Error())
		return
	}
	if len(peers) == 0 {
		writeText(w, http.StatusServiceUnavailable, "No site-to-site peers are known.")
		return
	}
	out := PeersEntity{Peers: make([]PeerDTO, 0, len(peers))}
	for _, p := range peers {
		out.Peers = append(out.Peers, PeerDTO{Hostname: p.Hostname, Port: p.Port, Secure: p.Secure, FlowFileCount: p.FlowFileCount, Zone: p.Zone})
	}
	s.commonHeaders(w, version)
	noCache(w)
	writeJSON(w, http.StatusOK, out)
}
