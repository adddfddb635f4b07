package backup

import "time"

// Report is the backup part of the health report.
type Report struct {
	Scheduled bool   `json:"scheduled"`
	Dir       string `json:"dir,omitempty"`
	Interval  string `json:"interval,omitempty"`
	Keep      int    `json:"keep,omitempty"`
	// Last is the newest successful backup this node took or found.
	Last        *LastBackup       `json:"last,omitempty"`
	LastError   string            `json:"lastError,omitempty"`
	LastErrorAt *time.Time        `json:"lastErrorAt,omitempty"`
	Succeeded   map[string]uint64 `json:"succeeded"`
	Failed      map[string]uint64 `json:"failed"`
	Skipped     uint64            `json:"skippedUnchanged"`
}

// LastBackup describes the newest backup.
type LastBackup struct {
	Index      uint64    `json:"index"`
	CreatedAt  time.Time `json:"createdAt"`
	AgeSeconds float64   `json:"ageSeconds"`
	SizeBytes  int64     `json:"sizeBytes"`
	Path       string    `json:"path,omitempty"`
	Kind       string    `json:"kind"`
	StateHash  string    `json:"stateHash"`
}

// Report summarises the service for the health endpoint.
func (s *Service) Report() Report {
	st := s.Status()
	r := Report{Scheduled: s.cfg.Dir != "" && s.cfg.Interval > 0, Succeeded: st.Succeeded, Failed: st.Failed, Skipped: st.Skipped,
		LastError: st.LastError}
	if r.Scheduled {
		r.Dir, r.Interval, r.Keep = s.cfg.Dir, s.cfg.Interval.String(), s.cfg.Keep
	}
	if !st.LastErrorAt.IsZero() {
		t := st.LastErrorAt
		r.LastErrorAt = &t
	}
	if st.Last != nil {
		r.Last = &LastBackup{Index: st.Last.Index, CreatedAt: st.Last.CreatedAt,
			AgeSeconds: s.cfg.Now().Sub(st.Last.CreatedAt).Seconds(), SizeBytes: st.LastSize,
			Path: st.LastPath, Kind: st.LastKind, StateHash: st.Last.StateHash}
	}
	return r
}
