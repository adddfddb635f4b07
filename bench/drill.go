package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weir-nifi/weir/internal/client"
	"github.com/weir-nifi/weir/internal/drill"
)

// Drills is measurement i: the drills of `weir drill` (package drill), Reps
// times each, on a 3-node primary in three zones with a 3-node standby
// following it: the loss of the leader's zone, the loss of another zone,
// and the failover to the standby (promoted as soon as the primary is
// isolated) with the switch back. Each reports RTO (from the fault until
// canary writes started after it are acknowledged again) and RPO
// (acknowledged canary items missing afterwards).
func (r *Runner) Drills(ctx context.Context) ([]Result, error) {
	zones := []string{"z1", "z2", "z3"}
	pc, sc, err := r.startDRPair(func(i int) []string { return []string{"--zone", zones[i-1]} })
	if err != nil {
		return nil, err
	}
	defer pc.Stop()
	defer sc.Stop()
	purls, surls := pc.APIs(), sc.APIs()
	sign := client.Signer(adminSign)
	hc := NewHTTPClient(64, 0)
	if err := follow(ctx, hc, surls[0], purls); err != nil {
		return nil, err
	}
	o := drill.Options{HTTP: hc, Sign: sign, Hold: 2 * time.Second, Progress: func(s string) { r.Env.logf("i.   %s", s) }}
	reps := max(1, r.Opts.Reps/2)

	type scenario struct {
		name string
		run  func() (drill.Report, error)
	}
	leaderZone := func(other bool) (string, error) {
		l, err := pc.Leader()
		if err != nil {
			return "", err
		}
		for i, n := range pc.Nodes {
			if (n.ID == l.ID) != other {
				return zones[i], nil
			}
		}
		return "", fmt.Errorf("no zone")
	}
	zone := func(other bool) func() (drill.Report, error) {
		return func() (drill.Report, error) {
			z, err := leaderZone(other)
			if err != nil {
				return drill.Report{}, err
			}
			return drill.ZoneLoss(ctx, purls, z, o)
		}
	}
	scenarios := []scenario{
		{"zone-loss, the leader's zone", zone(false)},
		{"zone-loss, another zone", zone(true)},
		{"failover to the standby (promoted at once), then back", func() (drill.Report, error) {
			return drill.Failover(ctx, purls, surls, true, o)
		}},
	}
	var out []Result
	for _, sc := range scenarios {
		var rto, rreg, rs2s, rpo, promote []float64
		for i := range reps {
			rep, err := sc.run()
			if err != nil {
				return out, fmt.Errorf("%s, run %d: %w", sc.name, i+1, err)
			}
			r.Env.logf("i. %s, run %d: RTO %.0f ms (registry %.0f, s2s %.0f), RPO %d (of %d commits, %d pushes), promote %.1f ms, leader %s -> %s",
				sc.name, i+1, rep.RTOMs, rep.Registry.RTOMs, rep.S2S.RTOMs, rep.RPO, rep.Registry.Acknowledged, rep.S2S.Acknowledged, rep.PromoteMs, rep.LeaderBefore, rep.LeaderAfter)
			rto, rreg, rs2s = append(rto, rep.RTOMs), append(rreg, rep.Registry.RTOMs), append(rs2s, rep.S2S.RTOMs)
			rpo, promote = append(rpo, float64(rep.RPO)), append(promote, rep.PromoteMs)
		}
		res := Result{ID: "i", Name: "drill: " + sc.name + fmt.Sprintf(" (%d runs)", reps),
			Weir:   fmt.Sprintf("RTO %s ms (registry %s, site-to-site %s); RPO %s", spreadF(rto, "%.0f"), spreadF(rreg, "%.0f"), spreadF(rs2s, "%.0f"), spreadF(rpo, "%.0f")),
			Values: map[string]float64{"rto_ms_median": median(rto), "rpo_max": maxF(rpo)}}
		if strings.HasPrefix(sc.name, "failover") {
			res.Weir += fmt.Sprintf("; promote %s ms", spreadF(promote, "%.1f"))
			res.Goal = "promote ≤ 10 s (RPO is the standby's lag: not 0 by design)"
			res.Met = yesNo(maxF(promote) <= 10000)
		} else {
			res.Goal = "RPO 0, RTO ≤ 1.5 s"
			res.Met = yesNo(maxF(rpo) == 0 && maxF(rto) <= 1500)
		}
		out = append(out, res)
	}
	return out, nil
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func maxF(vs []float64) float64 {
	m := 0.0
	for _, v := range vs {
		m = max(m, v)
	}
	return m
}
