package webui

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/backup"
	"github.com/weir-nifi/weir/internal/cluster"
	"github.com/weir-nifi/weir/internal/ops"
)

// refreshSeconds is how often the cluster page reloads itself (a meta
// refresh: no script).
const refreshSeconds = 5

// clusterPage is the data of the cluster page.
type clusterPage struct {
	Status      cluster.Status
	StatusErr   string
	Maintenance ops.MaintenanceStatus
	Backup      *backup.Report
	BackupErr   string
	// NextBackup is when the schedule takes the next one (zero: not
	// scheduled or none taken yet).
	NextBackup time.Time
	Latency    Spark
	Rate       Spark
	Now        time.Time
}

func (u *UI) cluster(w http.ResponseWriter, r *http.Request) {
	cp := clusterPage{Now: time.Now().UTC()}
	// Each part is read on its own: a cluster without a leader still
	// shows what this node knows.
	if err := u.getJSON(r, cluster.AdminBase+"/status", &cp.Status); err != nil {
		cp.StatusErr = err.Error()
	}
	if err := u.getJSON(r, ops.Base+"/maintenance", &cp.Maintenance); err != nil && cp.StatusErr == "" {
		cp.StatusErr = err.Error()
	}
	var comp struct {
		Details backup.Report `json:"details"`
	}
	if err := u.getJSON(r, ops.Base+"/health/backup", &comp); err != nil {
		cp.BackupErr = err.Error()
	} else {
		cp.Backup = &comp.Details
		if d, err := time.ParseDuration(comp.Details.Interval); err == nil && comp.Details.Last != nil && comp.Details.Scheduled {
			cp.NextBackup = comp.Details.Last.CreatedAt.Add(d).UTC()
		}
	}
	cp.Latency, cp.Rate = u.samples.sparks()
	u.render(w, r, http.StatusOK, "cluster", page{Title: "Cluster", Nav: "cluster", Refresh: refreshSeconds, Data: cp})
}

// adminHeader carries the admin token typed in a form: maintenance and
// backups need proof of the cluster key (package adminauth), from the UI
// as from curl.
func adminHeader(r *http.Request) http.Header {
	h := http.Header{}
	if t := strings.TrimSpace(r.PostFormValue("token")); t != "" {
		h.Set("Authorization", "Bearer "+t)
	}
	return h
}

func (u *UI) confirmMaintenance(w http.ResponseWriter, r *http.Request) {
	on := r.URL.Query().Get("enabled") == "true"
	c := confirmation{Action: Base + "/cluster/maintenance", Back: Base + "/cluster", Token: true,
		Hidden: map[string]string{"enabled": "false"}}
	if on {
		c.Question = "Turn maintenance mode on? Every node will refuse writes (503) until it is turned off; reads go on."
		c.Button, c.Reason, c.Hidden["enabled"] = "Turn maintenance on", true, "true"
	} else {
		c.Question = "Turn maintenance mode off? Every node will accept writes again."
		c.Button = "Turn maintenance off"
	}
	u.render(w, r, http.StatusOK, "confirm", page{Title: "Maintenance mode", Nav: "cluster", Data: c})
}

func (u *UI) setMaintenance(w http.ResponseWriter, r *http.Request) {
	on := r.PostFormValue("enabled") == "true"
	req := ops.MaintenanceRequest{Enabled: &on}
	if reason := strings.TrimSpace(r.PostFormValue("reason")); on && reason != "" {
		req.Reason = &reason
	}
	body, _ := json.Marshal(req)
	a := u.call(r, http.MethodPost, ops.Base+"/maintenance", body, adminHeader(r))
	if err := a.err(); err != nil {
		u.fail(w, r, err, Base+"/cluster")
		return
	}
	what := "Maintenance mode is off"
	if on {
		what = "Maintenance mode is on"
	}
	done(w, r, Base+"/cluster", what)
}

func (u *UI) confirmBackup(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, "confirm", page{Title: "Take a backup", Nav: "cluster", Data: confirmation{
		Question: "Take a backup now, into this node's backup directory?",
		Action:   Base + "/cluster/backup", Button: "Take backup", Back: Base + "/cluster", Token: true}})
}

func (u *UI) takeBackup(w http.ResponseWriter, r *http.Request) {
	a := u.call(r, http.MethodPost, backup.Path, []byte("{}"), adminHeader(r))
	if err := a.err(); err != nil {
		u.fail(w, r, err, Base+"/cluster")
		return
	}
	done(w, r, Base+"/cluster", "Backup taken")
}
